#include "idle_workers.h"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace tconv::bench {

// Why the state, not only the CPU time: the kernel adds a running thread's time on another CPU
// to its total (schedstat, CLOCK_PROCESS_CPUTIME_ID) at the scheduler tick, so a 1 ms window
// saw < 0.1 ms of CPU in 146 of 200 tries while a thread spun on the other CPU (measured). The
// old CPU-time-only wait thus ended ~1 ms after XNNPACK's round while its pthreadpool worker
// still spun (1,000,000 PAUSEs, ~27 ms here; gdb found it there during tconv's calls), and
// tconv's TBB worker ran 21% of the tasks instead of 47%: dcgan_g1 b1 at 2 threads took
// 0.80-1.1 ms beside XNNPACK or oneDNN (libgomp spins after each region too), 0.40-0.43 ms
// alone. A spinning thread's state is R throughout; a sleeping one's is S.
ThreadActivity SampleThreads(pid_t pid) {
  const pid_t self = gettid();
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  ThreadActivity activity;
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return activity;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (pid == getpid() && std::atoi(entry->d_name) == self) continue;
    const std::string task = absl::StrCat(tasks, "/", entry->d_name);
    // schedstat: nanoseconds on a CPU, first.
    std::ifstream schedstat(task + "/schedstat");
    double ns = 0;
    if (schedstat >> ns) activity.cpu_ms += ns * 1e-6;
    // stat: "pid (comm) state ..."; comm may hold spaces and parentheses, so the state is the
    // character after the last ") ".
    std::ifstream stat_file(task + "/stat");
    const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                           std::istreambuf_iterator<char>());
    const size_t end_of_comm = stat.rfind(") ");
    if (end_of_comm != std::string::npos && end_of_comm + 2 < stat.size() &&
        stat[end_of_comm + 2] == 'R') {
      ++activity.running;
    }
  }
  closedir(dir);
  return activity;
}

double WaitForIdleWorkers(pid_t child) {
  const auto start = std::chrono::steady_clock::now();
  const auto sample = [child] {
    ThreadActivity all = SampleThreads(getpid());
    if (child > 0) {
      const ThreadActivity other = SampleThreads(child);
      all.cpu_ms += other.cpu_ms;
      all.running += other.running;
    }
    return all;
  };
  for (int i = 0; i < 200; ++i) {
    const ThreadActivity before = sample();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const ThreadActivity after = sample();
    if (after.cpu_ms - before.cpu_ms < 0.1 && after.running == 0) break;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace tconv::bench
