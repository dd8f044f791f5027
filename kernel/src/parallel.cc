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

void ParallelFor(const ComputePool& pool, int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t, int64_t)> body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // Even serial work enters the arena: its slots are what bound the concurrency of all
  // callers sharing the pool (e.g. a server's batch workers).
  pool.impl().arena.execute([&] {
    if (n <= grain) {
      body(0, n);
      return;
    }
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
  });
}

}  // namespace internal
}  // namespace tconv
