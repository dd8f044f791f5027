// The real tconv-server binary: started on 127.0.0.1:0, it prints its bound address; on
// SIGTERM with a request in flight it goes NOT_SERVING, refuses new requests with
// UNAVAILABLE, answers the in-flight one and exits 0 within the drain timeout.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "tests/server/grpc/test_server.h"

extern char** environ;

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using Health = grpc::health::v1::HealthCheckResponse;

// A child process that is killed if the test ends before it exited.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    stdout_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) close(stdout_);
  }
  bool started() const { return pid_ > 0; }
  void Signal(int signal_number) { kill(pid_, signal_number); }

  // The first line of its stdout, waiting at most `timeout`; empty when none came.
  std::string ReadLine(absl::Duration timeout) {
    std::string line;
    const absl::Time deadline = absl::Now() + timeout;
    char c = 0;
    while (absl::Now() < deadline) {
      pollfd fd{stdout_, POLLIN, 0};
      if (poll(&fd, 1, 100) == 1 && read(stdout_, &c, 1) == 1) {
        if (c == '\n') return line;
        line += c;
      }
    }
    return "";
  }

  // Its exit code once it exited (at most `timeout`), or -1.
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

TEST(ServerBinaryTest, SigtermDrainsInFlightRequestsAndExitsZero) {
  TempDir dir;
  Child server({TCONV_SERVER_BINARY, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                "--model_repository=" + dir.path(), "--threads=1", "--drain_timeout=20s"});
  ASSERT_TRUE(server.started());
  const std::string line = server.ReadLine(absl::Seconds(30));
  const size_t at = line.find("grpc=");
  ASSERT_NE(at, std::string::npos) << "no address in: " << line;
  const std::string address = line.substr(at + 5, line.find(' ', at) - at - 5);
  ASSERT_THAT(address, ::testing::StartsWith("127.0.0.1:"));

  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto layers = tconv::v1::LayerService::NewStub(channel);
  auto oip = inference::GRPCInferenceService::NewStub(channel);
  auto health = grpc::health::v1::Health::NewStub(channel);
  // A long batch timeout holds the request in the server while it drains.
  auto create = SeededLayer("held", R"({"filters": 2, "kernel_size": 3})", 3, 1);
  create.mutable_batching()->set_max_batch_size(8);
  create.mutable_batching()->mutable_batch_timeout()->set_seconds(2);
  tconv::v1::CreateLayerResponse created;
  ASSERT_OK(ToAbsl(layers->CreateLayer(Context().get(), create, &created)));
  grpc::health::v1::HealthCheckRequest check;
  Health status;
  ASSERT_OK(ToAbsl(health->Check(Context().get(), check, &status)));
  EXPECT_EQ(status.status(), Health::SERVING);

  const auto request = RawInfer("held", {1, 4, 4, 3}, RandomValues(48, 1));
  auto in_flight = std::async(std::launch::async, [&] {
    inference::ModelInferResponse response;
    absl::Status result = ToAbsl(oip->ModelInfer(Context().get(), request, &response));
    return result.ok() ? absl::StatusOr<std::vector<float>>(RawOutput(response)) : result;
  });
  absl::SleepFor(absl::Milliseconds(500));  // it is now waiting in the layer's batcher
  const absl::Time sigterm = absl::Now();
  server.Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_OK(ToAbsl(health->Check(Context().get(), check, &status)));
  EXPECT_EQ(status.status(), Health::NOT_SERVING);
  inference::ModelInferResponse refused;
  EXPECT_THAT(ToAbsl(oip->ModelInfer(Context().get(), request, &refused)),
              StatusIs(absl::StatusCode::kUnavailable));

  auto answer = in_flight.get();
  ASSERT_OK(answer);
  EXPECT_EQ(answer->size(), 6u * 6u * 2u);
  EXPECT_EQ(server.Wait(absl::Seconds(25)), 0);
  EXPECT_LT(absl::Now() - sigterm, absl::Seconds(20));
}

}  // namespace
}  // namespace tconv::server::testing
