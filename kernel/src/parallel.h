// The kernel's only door to threads: everything parallel goes through ParallelFor, and only
// parallel.cc includes oneTBB (as oneDNN hides threading behind dnnl_thread.hpp).
#ifndef TCONV_KERNEL_SRC_PARALLEL_H_
#define TCONV_KERNEL_SRC_PARALLEL_H_

#include <cstdint>
#include <string>

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

// The CPUs a cgroup CPU quota allows, from the text of cgroup v2's cpu.max ("max 100000" or
// "<quota> <period>") or, when that is empty, of v1's cpu.cfs_quota_us and cpu.cfs_period_us
// (quota -1 = unlimited): the quota over the period rounded up, or 0 when there is no limit or
// the text is not understood. Pass "" for a file that cannot be read. (AvailableCpus reads the
// files; this is apart so that tests can give it any text.)
int CgroupCpuLimit(const std::string& cpu_max, const std::string& cfs_quota_us,
                   const std::string& cfs_period_us);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_PARALLEL_H_
