// The kernel's only door to threads: everything parallel goes through ParallelFor, and only
// parallel.cc includes oneTBB (as oneDNN hides threading behind dnnl_thread.hpp).
#ifndef TCONV_KERNEL_SRC_PARALLEL_H_
#define TCONV_KERNEL_SRC_PARALLEL_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "tconv/kernel/compute_pool.h"

namespace tconv::internal {

// Calls body(begin, end) on disjoint ranges covering [0, n), in `pool`'s arena, each range at
// least `grain` long (except the last). Which ranges run where is unspecified, so a body must
// give the same result for each index however the range is cut. Blocks until done. After a
// call that ran in parallel, the pool's workers poll for the next one for up to 0.5 ms before
// they sleep (as OpenMP runtimes do), so back-to-back calls find them awake.
void ParallelFor(const ComputePool& pool, int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t begin, int64_t end)> body);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_PARALLEL_H_
