// Waiting, between two libraries' turns in one benchmark process, until the first library's
// worker threads have stopped running: on a 2-core machine a worker still spinning after its
// library's last call takes a core from the next library's threads.
#ifndef TCONV_BENCH_IDLE_WORKERS_H_
#define TCONV_BENCH_IDLE_WORKERS_H_

#include <sys/types.h>

namespace tconv::bench {

// What the threads of a process are doing, from /proc/PID/task/*: milliseconds they have been on
// a CPU in all, and how many are running or runnable now (state R); the caller not counted.
struct ThreadActivity {
  double cpu_ms = 0;
  int running = 0;
};
ThreadActivity SampleThreads(pid_t pid);

// Returns once, for 1 ms, no thread of this process but the caller (nor of process `child`,
// when > 0) has run for more than 0.1 ms and none is running or runnable at the end; gives up
// after ~200 ms. Returns the milliseconds waited.
double WaitForIdleWorkers(pid_t child);

}  // namespace tconv::bench

#endif  // TCONV_BENCH_IDLE_WORKERS_H_
