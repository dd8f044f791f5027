// ComputePool: the bounded set of worker threads every forward pass runs on. It wraps one
// tbb::task_arena (behind a pointer, so TBB stays out of public headers): all layers of a
// server share one pool, which bounds the server's total compute concurrency.
#ifndef TCONV_KERNEL_COMPUTE_POOL_H_
#define TCONV_KERNEL_COMPUTE_POOL_H_

#include <memory>

#include "absl/status/statusor.h"

namespace tconv {

// CPUs this process may really use: the smaller of its affinity mask and its cgroup CPU quota
// (cgroup v2 cpu.max or v1 cfs_quota_us, rounded up). Containers report the host's core count
// through hardware_concurrency(); this does not. Always >= 1.
int AvailableCpus();

class ComputePool {
 public:
  struct Options {
    // Worker threads, including the calling thread. 0 means AvailableCpus().
    int threads = 0;
  };

  // INVALID_ARGUMENT for threads < 0 or > 1024.
  static absl::StatusOr<std::unique_ptr<ComputePool>> Create(Options options);
  // A process-wide pool with default options, for tools and tests.
  static const ComputePool& Default();

  ~ComputePool();
  ComputePool(const ComputePool&) = delete;
  ComputePool& operator=(const ComputePool&) = delete;

  int threads() const { return threads_; }

  struct Impl;  // defined by the kernel's parallel layer (kernel/src/parallel.cc)
  Impl& impl() const { return *impl_; }

 private:
  ComputePool(int threads, std::unique_ptr<Impl> impl);
  int threads_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tconv

#endif  // TCONV_KERNEL_COMPUTE_POOL_H_
