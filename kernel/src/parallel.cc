#include "parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

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
         "race:check_being_stolen\n"
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

namespace internal {

int CgroupCpuLimit(const std::string& cpu_max, const std::string& cfs_quota_us,
                   const std::string& cfs_period_us) {
  // A limit above any real CPU count is no limit (and keeps the int conversion defined).
  const auto cpus = [](double quota, double period) {
    if (!(quota > 0) || !(period > 0) || quota / period > 1 << 20) return 0;
    return static_cast<int>(std::ceil(quota / period));
  };
  std::istringstream v2(cpu_max);
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    if (quota == "max") return 0;
    std::istringstream number(quota);
    double q = 0;
    if (!(number >> q) || !number.eof()) return 0;
    return cpus(q, period);
  }
  std::istringstream q1(cfs_quota_us), p1(cfs_period_us);
  double q = 0;
  if (q1 >> q && p1 >> period) return cpus(q, period);
  return 0;
}

}  // namespace internal

namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// CPUs allowed by this process's cgroup quota, or 0 when there is none (or it cannot be read).
int CgroupCpuLimit() {
  return internal::CgroupCpuLimit(ReadSmallFile("/sys/fs/cgroup/cpu.max"),
                                  ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                                  ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
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

// How long a pool's workers keep polling for the next parallel call after one ends. A worker
// that has gone to sleep took 0.1-1 ms to wake on our 2-vCPU VMs, as long as a whole small
// layer, so back-to-back calls (a model's layers, a benchmark's repetitions) often ran on the
// calling thread alone: a call of two 120 us tasks, 4 calls back to back after a 2 ms pause,
// got its worker in 10-25% of calls and took 0.241 ms; with the linger, in ~88% and 0.123 ms
// (dcgan_g1 and unet_up1 at batch 1 were slower with 2 threads than with 1). OpenMP runtimes
// spin the same way by default (libgomp: 1-4 ms measured here). Cost: after a burst of calls
// the worker spun ~1 ms in all (measured), never more than kStale + kLinger.
constexpr auto kLinger = std::chrono::microseconds(500);
// A linger task that starts this long after the last parallel call ended (its worker was
// asleep, busy or descheduled) returns at once, so queued tasks cannot add up to a long spin.
constexpr auto kStale = std::chrono::milliseconds(2);

// What lingering workers poll, process-wide (so the queued task needs no closure data, which
// TSAN could not see handed over): parallel calls in progress, and when the last one ended.
std::atomic<int> parallel_calls{0};
std::atomic<std::chrono::steady_clock::rep> last_call_end{0};

// Spins (yielding) for up to kLinger while no parallel call is in progress; when one starts,
// returns, so that the worker steals its tasks without having to be woken.
void LingerTask() {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point last(Clock::duration(last_call_end.load(std::memory_order_relaxed)));
  if (start - last > kStale) return;
  while (parallel_calls.load(std::memory_order_relaxed) == 0 && Clock::now() - start < kLinger) {
    std::this_thread::yield();
  }
}

// Queues one LingerTask per worker of the pool. A worker woken by the queueing itself lingers
// too, so it is awake for the calls that follow.
void Linger(const ComputePool& pool) {
  last_call_end.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                      std::memory_order_relaxed);
  for (int i = 1; i < pool.threads(); ++i) pool.impl().arena.enqueue(LingerTask);
}

}  // namespace

void ParallelFor(const ComputePool& pool, int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t, int64_t)> body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const bool parallel = n > grain && pool.threads() > 1;
  // Before any task is spawned, so that lingering workers stop polling and steal them.
  if (parallel) parallel_calls.fetch_add(1, std::memory_order_relaxed);
  // Even serial work enters the arena: its slots are what bound the concurrency of all
  // callers sharing the pool (e.g. a server's batch workers).
  // The closures are built before the release that publishes them: a thread that runs one
  // (execute() may hand it to a thread already in the arena; parallel_for's workers) acquires
  // first, and ThreadSanitizer sees no other ordering through TBB.
  const auto chunk = [&](const tbb::blocked_range<int64_t>& r) {
    TCONV_TSAN_ACQUIRE(&tsan_handoff);
    body(r.begin(), r.end());
    TCONV_TSAN_RELEASE(&tsan_handoff);
  };
  const auto run = [&] {
    TCONV_TSAN_ACQUIRE(&tsan_handoff);
    if (parallel) {
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain), chunk);
    } else {
      body(0, n);
    }
    TCONV_TSAN_RELEASE(&tsan_handoff);
  };
  TCONV_TSAN_RELEASE(&tsan_handoff);
  pool.impl().arena.execute(run);
  TCONV_TSAN_ACQUIRE(&tsan_handoff);
  if (parallel) {
    parallel_calls.fetch_sub(1, std::memory_order_relaxed);
    Linger(pool);
  }
}

}  // namespace internal
}  // namespace tconv
