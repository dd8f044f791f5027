// The benchmark's wait between libraries: it must see a worker that spins on another CPU, which
// the process CPU clock alone misses most of the time (idle_workers.cc).
#include "idle_workers.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "gtest/gtest.h"

namespace tconv::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The first two CPUs this process may run on, or {-1, -1} when it has only one.
std::pair<int, int> TwoCpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return {-1, -1};
  int found[2] = {-1, -1}, n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) found[n++] = cpu;
  }
  return n == 2 ? std::pair{found[0], found[1]} : std::pair{-1, -1};
}

void Pin(pthread_t thread, int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(pthread_setaffinity_np(thread, sizeof(one), &one), 0);
}

// Pins the calling thread to one CPU for the test's lifetime: a spinner on the other CPU is
// the case the CPU clock misses (on the caller's own CPU, the switches account its time).
class PinnedCaller {
 public:
  explicit PinnedCaller(int cpu) {
    sched_getaffinity(0, sizeof(saved_), &saved_);
    Pin(pthread_self(), cpu);
  }
  ~PinnedCaller() { sched_setaffinity(0, sizeof(saved_), &saved_); }

 private:
  cpu_set_t saved_;
};

// A thread on `cpu` that spins (as a thread pool's worker does after a parallel call) for
// `spin`, then sleeps until it is joined.
class SpinningThread {
 public:
  SpinningThread(int cpu, Clock::duration spin)
      : thread_([this, cpu, spin] {
          Pin(pthread_self(), cpu);
          const Clock::time_point until = Clock::now() + spin;
          while (Clock::now() < until) {
          }
          spinning_ = false;
          while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }) {}
  ~SpinningThread() {
    stop_ = true;
    thread_.join();
  }
  bool spinning() const { return spinning_; }

 private:
  std::atomic<bool> spinning_{true}, stop_{false};
  std::thread thread_;
};

TEST(IdleWorkersTest, SeesASpinningThreadAsRunningAndNotTheCaller) {
  const auto [mine, other] = TwoCpus();
  if (other < 0) GTEST_SKIP() << "needs two CPUs";
  PinnedCaller caller(mine);
  EXPECT_EQ(SampleThreads(getpid()).running, 0);  // the caller is not counted
  SpinningThread spinner(other, std::chrono::milliseconds(300));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(spinner.spinning());
  EXPECT_EQ(SampleThreads(getpid()).running, 1);
}

TEST(IdleWorkersTest, WaitsUntilTheSpinningStops) {
  const auto [mine, other] = TwoCpus();
  if (other < 0) GTEST_SKIP() << "needs two CPUs";
  PinnedCaller caller(mine);
  constexpr auto kSpin = std::chrono::milliseconds(40);
  const auto start = Clock::now();
  SpinningThread spinner(other, kSpin);
  const double waited_ms = WaitForIdleWorkers(0);
  EXPECT_FALSE(spinner.spinning());
  EXPECT_GE(Clock::now() - start, kSpin);
  EXPECT_LT(waited_ms, 1000);
}

TEST(IdleWorkersTest, ReturnsSoonWhenNothingRuns) {
  // A thread that sleeps is idle: the wait ends after its first 1 ms window or few.
  SpinningThread sleeper(TwoCpus().first < 0 ? 0 : TwoCpus().first, std::chrono::milliseconds(0));
  while (sleeper.spinning()) std::this_thread::yield();
  EXPECT_LT(WaitForIdleWorkers(0), 100);
}

TEST(IdleWorkersTest, ANonexistentProcessHasNoThreads) {
  const ThreadActivity none = SampleThreads(-1);
  EXPECT_EQ(none.running, 0);
  EXPECT_EQ(none.cpu_ms, 0);
}

}  // namespace
}  // namespace tconv::bench
