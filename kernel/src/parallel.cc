#include "parallel.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include "tbb/blocked_range.h"
#include "tbb/parallel_for.h"
#include "tbb/task_arena.h"
#include "tconv/kernel/compute_pool.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
// Debian's oneTBB is not built with ThreadSanitizer, so TSAN cannot see the happens-before
// edges of TBB's task handoff (spawn -> steal -> execute -> wait). ParallelFor states them
// explicitly around every body, so races between bodies (overlapping writes) are still
// found; what remains invisible is TBB's own bookkeeping: its task objects (instantiated in
// our code from TBB's headers; top frame tbb::detail::d1::..., or just `start_for` in
// /usr/include/oneapi/tbb/ once inlined) and libtbb's internal memory, which it recycles
// through its own allocator (e.g. a torn-down arena's, reused by the next arena on another
// thread). Only reports whose TOP frame is TBB's are suppressed, so a race in tconv code still
// fails the run. This is the one place for the whole project (every binary links it).
#define TCONV_TSAN_RELEASE(sync) __tsan_release(sync)
#define TCONV_TSAN_ACQUIRE(sync) __tsan_acquire(sync)
extern "C" const char* __tsan_default_suppressions() {
  return "race_top:tbb::detail::d1::\n"
         "race_top:/oneapi/tbb/\n"
         "race_top:libtbb.so\n"
         // TBB's wait-tree nodes and stolen-task flags (small-object memory it recycles, or the
         // caller's stack) are updated around the body, and every wait on them is inside libtbb.
         "race:tbb::detail::d1::fold_tree\n"
         "race:tbb::detail::d1::node::node\n"
         "race:tbb::detail::d1::wait_node\n"
         "race:tbb::detail::d1::tree_node\n"
         "race:mark_task_stolen\n"
         "called_from_lib:libtbb.so\n";
}
#else
#define TCONV_TSAN_RELEASE(sync) static_cast<void>(sync)
#define TCONV_TSAN_ACQUIRE(sync) static_cast<void>(sync)
#endif

namespace tconv {

struct ComputePool::Impl {
  explicit Impl(int threads) : arena(threads) {}
  // mutable: executing work in an arena is logically const for the pool's users.
  mutable tbb::task_arena arena;
};

namespace {

// CPUs allowed by a cgroup quota, or 0 when there is none (or it cannot be read).
int CgroupCpuLimit() {
  // cgroup v2: "max 100000" or "<quota> <period>".
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    if (quota == "max" || period <= 0) return 0;
    return static_cast<int>(std::ceil(std::stod(quota) / period));
  }
  // cgroup v1: quota -1 means unlimited.
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::ifstream p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = 0;
  if (q1 >> q && p1 >> period && q > 0 && period > 0) {
    return static_cast<int>(std::ceil(q / period));
  }
  return 0;
}

}  // namespace

int AvailableCpus() {
  int cpus = 0;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) cpus = CPU_COUNT(&mask);
  if (cpus <= 0) cpus = tbb::this_task_arena::max_concurrency();
  const int quota = CgroupCpuLimit();
  if (quota > 0) cpus = std::min(cpus, quota);
  return std::max(cpus, 1);
}

ComputePool::ComputePool(int threads, std::unique_ptr<Impl> impl)
    : threads_(threads), impl_(std::move(impl)) {}
ComputePool::~ComputePool() = default;

absl::StatusOr<std::unique_ptr<ComputePool>> ComputePool::Create(Options options) {
  constexpr int kMaxThreads = 1024;
  if (options.threads < 0 || options.threads > kMaxThreads) {
    return absl::InvalidArgumentError("threads must be between 0 (= available CPUs) and " +
                                      std::to_string(kMaxThreads) + ", got " +
                                      std::to_string(options.threads));
  }
  const int threads = options.threads == 0 ? AvailableCpus() : options.threads;
  return std::unique_ptr<ComputePool>(new ComputePool(threads, std::make_unique<Impl>(threads)));
}

const ComputePool& ComputePool::Default() {
  static const ComputePool* pool = ComputePool::Create({}).value().release();
  return *pool;
}

namespace internal {
namespace {
// The address that names the handoff edges for TSAN. It is a global, not a local of each call,
// because a worker must acquire before it reads anything the caller wrote — including the
// closure that would hold a local's address. (So TSAN sees all ParallelFor calls as ordered
// with one another; races within one call are still found.)
char tsan_handoff = 0;
}  // namespace

void ParallelFor(const ComputePool& pool, int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t, int64_t)> body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // Even serial work enters the arena: its slots are what bound the concurrency of all
  // callers sharing the pool (e.g. a server's batch workers).
  TCONV_TSAN_RELEASE(&tsan_handoff);
  pool.impl().arena.execute([&] {
    // When the arena has no free slot, execute() hands this functor to a thread already in
    // the arena, so it too must acquire before reading its closure.
    TCONV_TSAN_ACQUIRE(&tsan_handoff);
    if (n <= grain) {
      body(0, n);
      TCONV_TSAN_RELEASE(&tsan_handoff);
      return;
    }
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) {
                        // First, before this closure is read: the closure itself was written
                        // by the calling thread.
                        TCONV_TSAN_ACQUIRE(&tsan_handoff);
                        body(r.begin(), r.end());
                        TCONV_TSAN_RELEASE(&tsan_handoff);
                      });
    TCONV_TSAN_RELEASE(&tsan_handoff);
  });
  TCONV_TSAN_ACQUIRE(&tsan_handoff);
}

}  // namespace internal
}  // namespace tconv
