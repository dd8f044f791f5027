// Weight packing for the fast path: done once when a layer is created.
#ifndef TCONV_KERNEL_SRC_FAST_PACK_H_
#define TCONV_KERNEL_SRC_FAST_PACK_H_

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::internal {

// A zero-initialised float array aligned to a cache line (64 bytes), so that vector loads of
// packed panels never straddle two lines.
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(int64_t size);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

// Packed kernel and start values (the bias, or zeros) of a layer.
struct PackedWeights {
  AlignedFloats kernel;
  AlignedFloats bias;
};

// For the GEMM kernels: per tap (p, q) and block j of `nr` output channels, a [C x nr] panel
// at ((p * kw + q) * blocks + j) * C * nr, channels past `filters` zero. The bias is padded to
// blocks * nr.
PackedWeights PackForGemm(const LayerWeights& weights, int64_t taps, int64_t filters,
                          int64_t channels, int64_t nr);

// For the dot kernels: per tap, the Keras [filters x C] slice as it is; bias of `filters`.
PackedWeights PackForDot(const LayerWeights& weights, int64_t taps, int64_t filters,
                         int64_t channels);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_PACK_H_
