// The real binaries: tconv-server with its Prometheus exporter (it prints the bound metrics
// port, refuses to start on an unusable metrics address) driven by the real `tconv loadgen`,
// whose summary must agree with what the server counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/client/client.h"
#include "testing/exposition.h"
#include "testing/http_get.h"
#include "testing/status_matchers.h"
#include "testing/subprocess.h"
#include "testing/test_server.h"

namespace tconv::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::Optional;

// The value after `key` in `line` up to the next space ("grpc=" in the start-up line).
std::string Field(const std::string& line, const std::string& key) {
  const size_t at = line.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return line.substr(start, line.find(' ', start) - start);
}

// The number after `label` in `text` ("throughput:   " -> 123.4).
double NumberAfter(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  double value = -1;
  if (at == std::string::npos) return value;
  const size_t start = at + label.size();
  const size_t end = text.find_first_of(" \n", start);
  if (!absl::SimpleAtod(text.substr(start, end - start), &value)) return -1;
  return value;
}

class LoadgenToolTest : public ::testing::Test {
 protected:
  // Starts tconv-server on 127.0.0.1:0 with metrics on 127.0.0.1:0 and reads both ports.
  void StartServer() {
    server_ = std::make_unique<Subprocess>(
        std::vector<std::string>{TCONV_SERVER_BINARY, "--grpc_address=127.0.0.1:0",
                                 "--metrics_address=127.0.0.1:0", "--threads=2",
                                 "--model_repository=" + dir_.path() + "/repository"},
        dir_.path() + "/server_stderr.txt");
    ASSERT_TRUE(server_->started());
    const std::string line = server_->ReadLine(absl::Seconds(60));
    ASSERT_THAT(line, HasSubstr("tconv-server serving grpc=127.0.0.1:"));
    address_ = Field(line, "grpc=");
    const std::string metrics = Field(line, "metrics=");
    ASSERT_THAT(metrics, MatchesRegex("127\\.0\\.0\\.1:[1-9][0-9]*")) << line;
    ASSERT_TRUE(absl::SimpleAtoi(metrics.substr(metrics.find(':') + 1), &metrics_port_));
  }

  // Creates a layer on the started server through the client library.
  void CreateLayer(const std::string& name, const std::string& config_json, int64_t in_channels,
                   uint64_t seed = 0) {
    auto client = client::Client::Create(address_);
    ASSERT_OK(client);
    client::LayerSpec spec;
    spec.name = name;
    spec.config_json = config_json;
    spec.in_channels = in_channels;
    spec.seed = seed;
    ASSERT_OK((*client)->CreateLayer(spec));
  }

  ToolRun Loadgen(std::vector<std::string> flags) {
    std::vector<std::string> args = {TCONV_TOOL_BINARY, "loadgen"};
    args.insert(args.end(), flags.begin(), flags.end());
    return RunTool(std::move(args), dir_.path());
  }

  std::optional<double> Sample(const std::string& name, const SampleLabels& labels = {}) {
    absl::StatusOr<std::string> text = HttpGet(metrics_port_, "/metrics");
    return text.ok() ? SampleValue(*text, name, labels) : std::nullopt;
  }

  server::testing::TempDir dir_;
  std::unique_ptr<Subprocess> server_;
  std::string address_;
  int metrics_port_ = 0;
};

TEST_F(LoadgenToolTest, LoadgenSummaryAgreesWithTheServersMetrics) {
  StartServer();
  if (HasFatalFailure()) return;
  EXPECT_THAT(Sample("tconv_build_info", {{"version", TCONV_PROJECT_VERSION}}), Optional(1.0));
  CreateLayer("lg", R"({"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"})", 4, 3);
  if (HasFatalFailure()) return;

  const ToolRun run = Loadgen({"--server=" + address_, "--layer=lg", "--input_shape=2,5,5,4",
                               "--concurrency=4", "--requests=40", "--progress"});
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("layer:        lg input [2, 5, 5, 4], concurrency 4\n"));
  EXPECT_THAT(run.out, HasSubstr("requests:     40 sent, 40 ok, 0 failed in "));
  EXPECT_THAT(run.out, HasSubstr("errors:       none\n"));
  EXPECT_THAT(run.out, MatchesRegex("(.|\n)*latency_ms:   p50=[0-9.]+ p90=[0-9.]+ p99=[0-9.]+ "
                                    "max=[0-9.]+\n(.|\n)*"));
  const double requests_per_s = NumberAfter(run.out, "throughput:   ");
  const double examples_per_s = NumberAfter(run.out, "requests/s, ");
  EXPECT_GT(requests_per_s, 0);
  EXPECT_NEAR(examples_per_s, 2 * requests_per_s, 0.11);  // batch 2, printed to 0.1
  EXPECT_GE(NumberAfter(run.out, "p90="), NumberAfter(run.out, "p50="));
  EXPECT_GE(NumberAfter(run.out, "max="), NumberAfter(run.out, "p99="));
  EXPECT_THAT(run.err, HasSubstr("\r"));  // the progress line, forced on by --progress

  // Exactly the loadgen's requests (40 of 2 examples), as the server counted them.
  EXPECT_THAT(Sample("tconv_requests_total", {{"layer", "lg"}, {"code", "OK"}}), Optional(40.0));
  EXPECT_THAT(Sample("tconv_inferences_total", {{"layer", "lg"}}), Optional(80.0));

  // --progress=false means false (it once turned the progress line on, like --progress).
  const ToolRun missing = Loadgen({"--server=" + address_, "--layer=nope", "--input_shape=1,5,5,4",
                                   "--concurrency=2", "--requests=6", "--progress=false"});
  EXPECT_EQ(missing.exit_status, 1) << missing.out << missing.err;
  EXPECT_THAT(missing.err, Not(HasSubstr("\r")));
  EXPECT_THAT(missing.out, HasSubstr("requests:     6 sent, 0 ok, 6 failed in "));
  EXPECT_THAT(missing.out, HasSubstr("NOT_FOUND=6"));
  EXPECT_THAT(missing.out, HasSubstr("latency_ms:   n/a"));
  EXPECT_THAT(Sample("tconv_requests_total", {{"layer", ""}, {"code", "NOT_FOUND"}}),
              Optional(6.0));

  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(absl::Seconds(30)), 0);
}

TEST_F(LoadgenToolTest, LoadgenForADurationStopsInTime) {
  StartServer();
  if (HasFatalFailure()) return;
  CreateLayer("timed", R"({"filters": 2, "kernel_size": 3})", 2);
  if (HasFatalFailure()) return;
  const absl::Time start = absl::Now();
  const ToolRun run = Loadgen({"--server=" + address_, "--layer=timed", "--input_shape=1,4,4,2",
                               "--concurrency=3", "--duration=1s"});
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));  // a bound, not a speed check
  const double sent = NumberAfter(run.out, "requests:     ");
  EXPECT_GT(sent, 0) << run.out;
  EXPECT_THAT(Sample("tconv_requests_total", {{"layer", "timed"}, {"code", "OK"}}), Optional(sent));
  EXPECT_EQ(run.err, "");  // no progress line when stderr is not a terminal
}

// --rpc=live: the empty RPC through the same callers, with no layer; the server runs no
// inference for it (nothing is counted as a request).
TEST_F(LoadgenToolTest, EmptyRpcModeCallsServerLive) {
  StartServer();
  if (HasFatalFailure()) return;
  const ToolRun run =
      Loadgen({"--server=" + address_, "--rpc=live", "--concurrency=4", "--requests=40"});
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("rpc:          ServerLive (empty), concurrency 4\n"));
  EXPECT_THAT(run.out, HasSubstr("requests:     40 sent, 40 ok, 0 failed in "));
  EXPECT_THAT(run.out, MatchesRegex("(.|\n)*throughput:   [0-9.]+ requests/s\n(.|\n)*"));
  EXPECT_THAT(run.out, MatchesRegex("(.|\n)*latency_ms:   p50=[0-9.]+ p90=[0-9.]+ p99=[0-9.]+ "
                                    "max=[0-9.]+\n(.|\n)*"));
  EXPECT_GT(NumberAfter(run.out, "throughput:   "), 0);
  EXPECT_EQ(Sample("tconv_requests_total", {{"layer", ""}, {"code", "OK"}}), std::nullopt);

  const ToolRun bad = Loadgen({"--server=" + address_, "--rpc=metadata", "--requests=1"});
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_THAT(bad.err, HasSubstr("--rpc must be infer, live or shm, got \"metadata\""));
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(absl::Seconds(30)), 0);
}

// --rpc=shm: every caller's tensors travel through a shared memory region of its own, which is
// gone (unregistered and unlinked) when the run ends.
TEST_F(LoadgenToolTest, SharedMemoryModeInfersThroughRegionsAndRemovesThem) {
  StartServer();
  if (HasFatalFailure()) return;
  CreateLayer("shm", R"({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"})", 3);
  if (HasFatalFailure()) return;
  const ToolRun run = Loadgen({"--server=" + address_, "--layer=shm", "--input_shape=2,6,6,3",
                               "--rpc=shm", "--concurrency=3", "--requests=30"});
  ASSERT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("layer:        shm input [2, 6, 6, 3], concurrency 3, tensors in "
                                 "system shared memory\n"));
  EXPECT_THAT(run.out, HasSubstr("requests:     30 sent, 30 ok, 0 failed in "));
  // The 30 and the one ordinary call that sized the regions.
  EXPECT_THAT(Sample("tconv_requests_total", {{"layer", "shm"}, {"code", "OK"}}), Optional(31.0));
  EXPECT_THAT(Sample("tconv_inferences_total", {{"layer", "shm"}}), Optional(62.0));
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr("tconv_loadgen_")));
  }
  // A layer that does not exist: refused before any region is made.
  const ToolRun missing = Loadgen({"--server=" + address_, "--layer=nope", "--input_shape=1,6,6,3",
                                   "--rpc=shm", "--requests=3"});
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(absl::Seconds(30)), 0);
}

TEST_F(LoadgenToolTest, UnusableMetricsAddressStopsTheServerWithAClearMessage) {
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string metrics = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  Subprocess server(
      {TCONV_SERVER_BINARY, "--grpc_address=127.0.0.1:0", "--metrics_address=" + metrics,
       "--model_repository=" + dir_.path() + "/repository"},
      dir_.path() + "/server_stderr.txt");
  ASSERT_TRUE(server.started());
  EXPECT_EQ(server.Wait(absl::Seconds(60)), 1);
  EXPECT_THAT(
      ReadFile(dir_.path() + "/server_stderr.txt"),
      HasSubstr("cannot start: UNAVAILABLE: cannot serve metrics on --metrics_address=" + metrics));
  close(taken);
}

TEST_F(LoadgenToolTest, LoadgenCommandLine) {
  const ToolRun help = Loadgen({"--help"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: tconv loadgen --layer=NAME --input_shape=B,H,W,C"));
  EXPECT_THAT(help.out, HasSubstr("Exit status"));

  const ToolRun none = Loadgen({});
  EXPECT_EQ(none.exit_status, 2);
  EXPECT_THAT(none.err, HasSubstr("--layer is required"));
  const ToolRun both =
      Loadgen({"--layer=x", "--input_shape=1,2,2,1", "--requests=3", "--duration=1s"});
  EXPECT_EQ(both.exit_status, 2);
  EXPECT_THAT(both.err, HasSubstr("--requests and --duration exclude each other"));
  const ToolRun shape = Loadgen({"--layer=x", "--input_shape=1,2,0,1"});
  EXPECT_EQ(shape.exit_status, 2);
  EXPECT_THAT(shape.err, HasSubstr("--input_shape must be 4 positive integers"));
  const ToolRun concurrency = Loadgen({"--layer=x", "--input_shape=1,2,2,1", "--concurrency=0"});
  EXPECT_EQ(concurrency.exit_status, 2);
  EXPECT_THAT(concurrency.err, HasSubstr("--concurrency must be an integer in [1, 1024]"));

  // Nothing listens on a port just released: UNAVAILABLE before any load is sent.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(probe);
  const ToolRun down =
      Loadgen({absl::StrCat("--server=127.0.0.1:", ntohs(address.sin_port)), "--layer=x",
               "--input_shape=1,2,2,1", "--requests=3", "--timeout=5s"});
  EXPECT_EQ(down.exit_status, 1);
  EXPECT_THAT(down.err, HasSubstr("tconv loadgen: UNAVAILABLE"));
}

}  // namespace
}  // namespace tconv::testing
