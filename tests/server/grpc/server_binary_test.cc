// The real tconv-server binary: started on 127.0.0.1:0, it prints its bound address; on
// SIGTERM with a request in flight it goes NOT_SERVING, refuses new requests with
// UNAVAILABLE, answers the in-flight one and exits 0 within the drain timeout.
#include <signal.h>

#include <future>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/subprocess.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using Health = grpc::health::v1::HealthCheckResponse;

// --help lists the server's own flags with their defaults and exits 0; Abseil's and gRPC's
// internal flags are left to --helpfull.
TEST(ServerBinaryTest, HelpListsTheServersFlagsWithDefaultsAndExitsZero) {
  TempDir dir;
  const tconv::testing::ToolRun run =
      tconv::testing::RunTool({TCONV_SERVER_BINARY, "--help"}, dir.path(), absl::Seconds(30));
  EXPECT_EQ(run.exit_status, 0) << run.err;
  for (const char* expected :
       {"--grpc_address", "default: 0.0.0.0:8001", "--max_message_bytes", "default: 268435456",
        "--drain_timeout", "default: 10s", "--model_repository", "default: ./model_repository",
        "--auth_token_file", "--allow_remote_control", "--max_batch_size", "--helpfull"}) {
    EXPECT_THAT(run.out, ::testing::HasSubstr(expected));
  }
  EXPECT_THAT(run.out, ::testing::Not(::testing::HasSubstr("--flagfile")));  // Abseil's own
  EXPECT_THAT(run.out,
              ::testing::Not(::testing::HasSubstr("tconv-server serving")));  // did not start
  const tconv::testing::ToolRun full =
      tconv::testing::RunTool({TCONV_SERVER_BINARY, "--helpfull"}, dir.path(), absl::Seconds(30));
  EXPECT_THAT(full.out, ::testing::HasSubstr("--flagfile"));
}

TEST(ServerBinaryTest, SigtermDrainsInFlightRequestsAndExitsZero) {
  TempDir dir;
  tconv::testing::Subprocess server(
      {TCONV_SERVER_BINARY, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
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
