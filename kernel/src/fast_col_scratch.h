// Per-call scratch of the col path (fast_col.cc), kept per thread between calls so that warm
// calls do not allocate. Internal to fast_col.cc.
#ifndef TCONV_KERNEL_SRC_FAST_COL_SCRATCH_H_
#define TCONV_KERNEL_SRC_FAST_COL_SCRATCH_H_

#include <cstdint>
#include <memory>
#include <vector>

namespace tconv::internal {

// A float buffer that grows on demand; Trim() frees it when it outgrew what is worth keeping.
class KeptFloats {
 public:
  float* Get(int64_t n) {
    if (n > size_) {
      data_.reset(new float[n]);
      size_ = n;
    }
    return data_.get();
  }
  void Trim() {
    if (size_ > kMaxKeptFloats) data_.reset(), size_ = 0;
  }

 private:
  static constexpr int64_t kMaxKeptFloats = int64_t{16} << 20;  // 64 MiB per thread
  std::unique_ptr<float[]> data_;
  int64_t size_ = 0;
};

// The calling thread's scratch of one call: the col matrix, the NHWC copies of the
// channels_first entry and the gather's column table (x_offsets[x * kw + j]: the col offset of
// column x's j-th tap that exists; x_count[x] of them).
struct ColScratch {
  KeptFloats col, layout;
  std::vector<int64_t> x_offsets;
  std::vector<int64_t> x_count;
  bool busy = false;
};

// The thread's kept ColScratch, or a fresh one if a call on this thread already holds it (a
// caller waiting in ParallelFor may run another layer's call).
class ColScratchLease {
 public:
  ColScratchLease() {
    thread_local ColScratch kept;
    if (kept.busy) own_ = std::make_unique<ColScratch>();
    scratch_ = own_ ? own_.get() : &kept;
    scratch_->busy = true;
  }
  ~ColScratchLease() {
    scratch_->busy = false;
    scratch_->col.Trim();
    scratch_->layout.Trim();
  }
  ColScratch& operator*() const { return *scratch_; }

 private:
  std::unique_ptr<ColScratch> own_;
  ColScratch* scratch_;
};

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_COL_SCRATCH_H_
