// Child processes for the tests of the real binaries: every wait is bounded, and a child still
// running when its object goes away is killed.
#ifndef TCONV_TESTS_TESTING_SUBPROCESS_H_
#define TCONV_TESTS_TESTING_SUBPROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

extern char** environ;

namespace tconv::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class Subprocess {
 public:
  // Starts `args` with stdout on a pipe (see ReadLine) and stderr in the file `stderr_path`,
  // or inherited when it is empty.
  explicit Subprocess(std::vector<std::string> args, const std::string& stderr_path = "") {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    if (!stderr_path.empty()) {
      posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    stdout_ = fds[0];
  }
  ~Subprocess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) close(stdout_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  void Signal(int signal_number) { kill(pid_, signal_number); }

  // The next line of its stdout (without '\n'), waiting at most `timeout`; what came so far
  // when the time is up or stdout closed.
  std::string ReadLine(absl::Duration timeout) {
    std::string line;
    const absl::Time deadline = absl::Now() + timeout;
    char c = 0;
    while (absl::Now() < deadline) {
      pollfd fd{stdout_, POLLIN, 0};
      if (poll(&fd, 1, 100) != 1) continue;
      if (read(stdout_, &c, 1) != 1 || c == '\n') return line;
      line += c;
    }
    return line;
  }

  // Everything left on its stdout until it closes (at most `timeout`).
  std::string ReadAll(absl::Duration timeout) {
    std::string text;
    const absl::Time deadline = absl::Now() + timeout;
    char buffer[4096];
    while (absl::Now() < deadline) {
      pollfd fd{stdout_, POLLIN, 0};
      if (poll(&fd, 1, 100) != 1) continue;
      const ssize_t n = read(stdout_, buffer, sizeof(buffer));
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
    return text;
  }

  // Its exit status once it exited (at most `timeout`; 128 + signal when killed), or -1.
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int status = 0;
    while (absl::Now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
};

struct ToolRun {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (at most `timeout`, then it is killed).
inline ToolRun RunTool(std::vector<std::string> args, const std::string& scratch_dir,
                       absl::Duration timeout = absl::Seconds(120)) {
  const std::string err_path = scratch_dir + "/tool_stderr.txt";
  Subprocess tool(std::move(args), err_path);
  ToolRun run;
  if (!tool.started()) return run;
  run.out = tool.ReadAll(timeout);
  run.exit_status = tool.Wait(absl::Seconds(10));
  run.err = ReadFile(err_path);
  return run;
}

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_SUBPROCESS_H_
