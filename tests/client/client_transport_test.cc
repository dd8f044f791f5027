// tconv::client against a real in-process server: OIP metadata, the model-repository
// extension, grpc.health.v1, and what the transport decides (deadlines, unreachable servers,
// message limits, dns:/// targets, round-robin over several addresses).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/client/client.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::testing {
namespace {

using client::CallOptions;
using client::Client;
using client::LayerSpec;
using client::ServingStatus;
using ::tconv::server::testing::TestServer;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kChannelsFirstConfig[] =
    R"({"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "data_format": "channels_first"})";

LayerSpec Seeded(std::string name, int64_t in_channels, uint64_t seed,
                 std::string config = R"({"filters": 4, "kernel_size": 3, "strides": 2})") {
  LayerSpec spec;
  spec.name = std::move(name);
  spec.config_json = std::move(config);
  spec.in_channels = in_channels;
  spec.seed = seed;
  return spec;
}

// Throws (failing the test, never crashing it) when the client cannot be created.
std::unique_ptr<Client> Connect(const std::string& target, client::Options options = {}) {
  return Client::Create(target, std::move(options)).value();
}

CallOptions Timeout(absl::Duration timeout) { return CallOptions{timeout}; }

TEST(ClientTransportTest, MetadataAndReadiness) {
  auto server = TestServer::Start();
  ASSERT_OK(server);
  auto client = Connect((*server)->address());
  ASSERT_OK(client->CreateLayer(Seeded("cf", 6, 1, kChannelsFirstConfig)));
  EXPECT_THAT(client->ServerLive(), IsOkAndHolds(true));
  EXPECT_THAT(client->ServerReady(), IsOkAndHolds(true));
  EXPECT_THAT(client->ModelReady("cf"), IsOkAndHolds(true));
  EXPECT_THAT(client->ModelReady("cf", "1"), IsOkAndHolds(true));
  absl::StatusOr<client::ServerMetadata> server_metadata = client->GetServerMetadata();
  ASSERT_OK(server_metadata);
  EXPECT_FALSE(server_metadata->name.empty());
  EXPECT_EQ(server_metadata->version, "test");
  EXPECT_THAT(server_metadata->extensions, Contains("model_repository"));
  absl::StatusOr<client::ModelMetadata> model = client->GetModelMetadata("cf");
  ASSERT_OK(model);
  EXPECT_EQ(model->name, "cf");
  EXPECT_EQ(model->platform, "keras_conv2dtranspose");
  EXPECT_THAT(model->versions, ElementsAre("1"));
  ASSERT_EQ(model->inputs.size(), 1u);
  EXPECT_EQ(model->inputs[0].name, "input");
  EXPECT_EQ(model->inputs[0].datatype, "FP32");
  EXPECT_THAT(model->inputs[0].shape, ElementsAre(-1, 6, -1, -1));
  ASSERT_EQ(model->outputs.size(), 1u);
  EXPECT_THAT(model->outputs[0].shape, ElementsAre(-1, 4, -1, -1));
  EXPECT_THAT(client->GetModelMetadata("cf", "7"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ClientTransportTest, RepositoryIndexUnloadAndLoad) {
  auto server = TestServer::Start();
  ASSERT_OK(server);
  auto client = Connect((*server)->address());
  absl::StatusOr<client::LayerInfo> created = client->CreateLayer(Seeded("gen", 2, 9));
  ASSERT_OK(created);
  auto index = client->RepositoryIndex();
  ASSERT_OK(index);
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ((*index)[0].name, "gen");
  EXPECT_EQ((*index)[0].state, "READY");

  ASSERT_OK(client->RepositoryUnload("gen"));
  EXPECT_THAT(client->ModelReady("gen"), IsOkAndHolds(false));
  const std::vector<float> input(1 * 3 * 3 * 2, 0.25f);
  EXPECT_THAT(client->Infer("gen", input, std::vector<int64_t>{1, 3, 3, 2}),
              StatusIs(absl::StatusCode::kNotFound));
  index = client->RepositoryIndex();
  ASSERT_OK(index);
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ((*index)[0].state, "UNAVAILABLE");
  EXPECT_THAT(client->RepositoryIndex(/*ready_only=*/true), IsOkAndHolds(::testing::IsEmpty()));

  ASSERT_OK(client->RepositoryLoad("gen"));
  EXPECT_THAT(client->ModelReady("gen"), IsOkAndHolds(true));
  absl::StatusOr<client::LayerInfo> reloaded = client->GetLayer("gen");
  ASSERT_OK(reloaded);
  EXPECT_EQ(reloaded->weight_checksum, created->weight_checksum);
  EXPECT_OK(client->Infer("gen", input, std::vector<int64_t>{1, 3, 3, 2}));
  EXPECT_THAT(client->RepositoryLoad("missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ClientTransportTest, HealthFollowsTheServerLifecycle) {
  TestServer::Options options;
  options.mark_ready = false;
  auto server = TestServer::Start(options);
  ASSERT_OK(server);
  auto client = Connect((*server)->address());
  EXPECT_THAT(client->Health(), IsOkAndHolds(ServingStatus::kNotServing));
  EXPECT_THAT(client->ServerReady(), IsOkAndHolds(false));
  EXPECT_THAT(client->ServerLive(), IsOkAndHolds(true));

  (*server)->server().MarkReady();
  EXPECT_THAT(client->Health(), IsOkAndHolds(ServingStatus::kServing));
  EXPECT_THAT(client->Health("inference.GRPCInferenceService"),
              IsOkAndHolds(ServingStatus::kServing));
  EXPECT_THAT(client->Health("no.such.Service"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(client->CreateLayer(Seeded("gen", 2, 1)));

  (*server)->server().StartDraining();
  EXPECT_THAT(client->Health(), IsOkAndHolds(ServingStatus::kNotServing));
  EXPECT_THAT(client->ServerReady(), IsOkAndHolds(false));
  const std::vector<float> input(1 * 3 * 3 * 2, 0.25f);
  EXPECT_THAT(client->Infer("gen", input, std::vector<int64_t>{1, 3, 3, 2}),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ClientTransportTest, DeadlinesAreDeadlineExceeded) {
  auto server = TestServer::Start();
  ASSERT_OK(server);
  // A call that cannot finish within 1 ms: 5x5, 64 -> 64 channels on 64x64 is 0.84 GFLOP
  // after a 1 MiB upload, at least 3.6 ms even at this machine's FMA peak (234 GFLOP/s).
  // (gRPC keeps deadlines in milliseconds, so shorter timeouts are not reliably shorter.)
  auto client = Connect((*server)->address());
  ASSERT_OK(client->CreateLayer(
      Seeded("big", 64, 1, R"({"filters": 64, "kernel_size": 5, "padding": "same"})")));
  const std::vector<float> input(64 * 64 * 64, 0.5f);
  const std::vector<int64_t> shape = {1, 64, 64, 64};
  EXPECT_THAT(client->Infer("big", input, shape, Timeout(absl::Milliseconds(1))),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Options::default_timeout applies to calls without their own; a per-call one overrides it.
  client::Options options;
  options.default_timeout = absl::Milliseconds(1);
  auto hurried = Connect((*server)->address(), options);
  EXPECT_THAT(hurried->Infer("big", input, shape), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_OK(hurried->Infer("big", input, shape, Timeout(absl::Seconds(60))));
  // The server stays healthy.
  EXPECT_THAT(client->Health(), IsOkAndHolds(ServingStatus::kServing));
}

TEST(ClientTransportTest, NoServerIsUnavailable) {
  // Bound but not listening: connections are refused while the socket stays open.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  auto client = Connect("127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
  EXPECT_THAT(client->ServerLive(Timeout(absl::Seconds(10))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(client->Health("", Timeout(absl::Seconds(10))),
              StatusIs(absl::StatusCode::kUnavailable));
  close(fd);
}

TEST(ClientTransportTest, OversizedMessagesAreResourceExhausted) {
  TestServer::Options server_options;
  server_options.max_message_bytes = 64 << 10;
  auto server = TestServer::Start(server_options);
  ASSERT_OK(server);
  auto client = Connect((*server)->address());
  ASSERT_OK(client->CreateLayer(Seeded("gen", 16, 1)));
  const std::vector<float> input(1 * 32 * 32 * 16, 0.5f);  // 64 KiB of floats + framing
  EXPECT_THAT(client->Infer("gen", input, std::vector<int64_t>{1, 32, 32, 16}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // The client's own limit is enforced before sending.
  client::Options small;
  small.max_message_bytes = 1 << 10;
  auto limited = Connect((*server)->address(), small);
  const std::vector<float> small_input(1 * 8 * 8 * 16, 0.5f);  // 4 KiB
  EXPECT_THAT(limited->Infer("gen", small_input, std::vector<int64_t>{1, 8, 8, 16}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_OK(client->Infer("gen", small_input, std::vector<int64_t>{1, 8, 8, 16}));
}

TEST(ClientTransportTest, DnsTargetResolves) {
  auto server = TestServer::Start();
  ASSERT_OK(server);
  auto client = Connect("dns:///localhost:" + std::to_string((*server)->port()));
  EXPECT_THAT(client->ServerLive(Timeout(absl::Seconds(30))), IsOkAndHolds(true));
  EXPECT_THAT(client->Health(), IsOkAndHolds(ServingStatus::kServing));
}

// Two servers hold a layer of the same name with different weights; a target that resolves to
// both must spread calls over both (round_robin), not pin to the first (pick_first).
TEST(ClientTransportTest, RoundRobinOverEveryResolvedAddress) {
  auto first = TestServer::Start();
  auto second = TestServer::Start();
  ASSERT_OK(first);
  ASSERT_OK(second);
  ASSERT_OK(Connect((*first)->address())->CreateLayer(Seeded("gen", 2, 1)));
  ASSERT_OK(Connect((*second)->address())->CreateLayer(Seeded("gen", 2, 2)));
  auto client = Connect("ipv4:" + (*first)->address() + "," + (*second)->address());
  std::set<uint64_t> checksums_seen;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  for (int call = 0; call < 200 && checksums_seen.size() < 2 && absl::Now() < give_up; ++call) {
    absl::StatusOr<client::LayerInfo> layer = client->GetLayer("gen");
    ASSERT_OK(layer);
    checksums_seen.insert(layer->weight_checksum);
  }
  EXPECT_EQ(checksums_seen.size(), 2u) << "every call went to one server";
}

}  // namespace
}  // namespace tconv::testing
