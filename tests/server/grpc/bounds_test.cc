// Bounded input and output through a real in-process server: a 10 KB layer name on every RPC
// that takes one is INVALID_ARGUMENT with a short message (not RESOURCE_EXHAUSTED from the
// client's metadata limit), and an answer too large for --max_message_bytes is refused before
// the kernel runs, counted under RESOURCE_EXHAUSTED.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/repository/layer_name.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kSmall[] = R"({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"})";

std::unique_ptr<TestServer> StartOrDie(const std::string& dir, int64_t max_message_bytes = 0) {
  TestServer::Options options;
  options.repository_dir = dir;
  if (max_message_bytes > 0) options.max_message_bytes = max_message_bytes;
  auto server = TestServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(BoundsTest, AHugeNameIsInvalidArgumentOnEveryRpc) {
  TempDir dir;
  auto server = StartOrDie(dir.path());
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("small", kSmall, 3, 1)));
  const std::string huge(10 * 1024, 'n');
  auto& layers = server->layers();
  auto& oip = server->oip();
  const std::vector<std::pair<std::string, std::function<grpc::Status()>>> calls = {
      {"CreateLayer",
       [&] {
         tconv::v1::CreateLayerResponse response;
         return layers.CreateLayer(Context().get(), SeededLayer(huge, kSmall, 3, 1), &response);
       }},
      {"GetLayer",
       [&] {
         tconv::v1::GetLayerRequest request;
         request.set_name(huge);
         tconv::v1::GetLayerResponse response;
         return layers.GetLayer(Context().get(), request, &response);
       }},
      {"DeleteLayer",
       [&] {
         tconv::v1::DeleteLayerRequest request;
         request.set_name(huge);
         tconv::v1::DeleteLayerResponse response;
         return layers.DeleteLayer(Context().get(), request, &response);
       }},
      {"ModelReady",
       [&] {
         inference::ModelReadyRequest request;
         request.set_name(huge);
         inference::ModelReadyResponse response;
         return oip.ModelReady(Context().get(), request, &response);
       }},
      {"ModelMetadata",
       [&] {
         inference::ModelMetadataRequest request;
         request.set_name(huge);
         inference::ModelMetadataResponse response;
         return oip.ModelMetadata(Context().get(), request, &response);
       }},
      {"ModelInfer",
       [&] {
         inference::ModelInferResponse response;
         return oip.ModelInfer(Context().get(), RawInfer(huge, {1, 2, 2, 3}, RandomValues(12, 1)),
                               &response);
       }},
      {"RepositoryModelLoad",
       [&] {
         inference::RepositoryModelLoadRequest request;
         request.set_model_name(huge);
         inference::RepositoryModelLoadResponse response;
         return oip.RepositoryModelLoad(Context().get(), request, &response);
       }},
      {"RepositoryModelUnload",
       [&] {
         inference::RepositoryModelUnloadRequest request;
         request.set_model_name(huge);
         inference::RepositoryModelUnloadResponse response;
         return oip.RepositoryModelUnload(Context().get(), request, &response);
       }},
  };
  for (const auto& [rpc, call] : calls) {
    const absl::Status status = ToAbsl(call());
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 AllOf(HasSubstr(kLayerNameRule), HasSubstr("(10240 bytes)"))))
        << rpc;
    EXPECT_LE(status.message().size(), 1024u) << rpc;
  }
  // Nothing was created or removed, and inference was counted under its real code.
  EXPECT_OK(Infer(*server, RawInfer("small", {1, 2, 2, 3}, RandomValues(12, 1))));
  EXPECT_EQ(server->observer().Count(huge, absl::StatusCode::kInvalidArgument), 1);
}

TEST(BoundsTest, OtherClientStringsAreCutToo) {
  TempDir dir;
  auto server = StartOrDie(dir.path());
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("small", kSmall, 3, 1)));
  const std::string huge(10 * 1024, 'v');
  inference::ModelMetadataRequest metadata;
  metadata.set_name("small");
  metadata.set_version(huge);
  inference::ModelMetadataResponse metadata_response;
  EXPECT_THAT(ToAbsl(server->oip().ModelMetadata(Context().get(), metadata, &metadata_response)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no version 'vvvv")));
  inference::RepositoryIndexRequest index;
  index.set_repository_name(huge);
  inference::RepositoryIndexResponse index_response;
  const absl::Status status =
      ToAbsl(server->oip().RepositoryIndex(Context().get(), index, &index_response));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr("(10240 bytes)")));
  EXPECT_LE(status.message().size(), 1024u);
}

// An upsampling layer (x4 in each spatial dimension, 8x the channels): a 256 KiB input asks
// for an 8 MiB answer, above a 4 MiB limit.
constexpr char kUpsample[] =
    R"({"filters": 32, "kernel_size": 5, "strides": 4, "padding": "same"})";

absl::Duration TimeOf(const std::function<void()>& call) {
  const absl::Time start = absl::Now();
  call();
  return absl::Now() - start;
}

TEST(BoundsTest, AnOversizedAnswerIsRefusedBeforeComputingAndCounted) {
  TempDir dir;
  auto server = StartOrDie(dir.path(), 4 << 20);
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("up", kUpsample, 4, 1)));
  const auto too_big = RawInfer("up", {4, 32, 32, 4}, RandomValues(4 * 32 * 32 * 4, 1));
  const auto fits = RawInfer("up", {1, 32, 32, 4}, RandomValues(32 * 32 * 4, 2));  // 2 MiB out

  constexpr int kRounds = 3;
  absl::Duration refused = absl::InfiniteDuration();
  absl::Duration accepted = absl::InfiniteDuration();
  for (int round = 0; round < kRounds; ++round) {
    refused = std::min(
        refused, TimeOf([&] {
          EXPECT_THAT(
              Infer(*server, too_big),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("(4, 128, 128, 32)"), HasSubstr("8388608 bytes of float32"),
                             HasSubstr("limit of 4194304 bytes"),
                             HasSubstr("send fewer examples per request or raise "
                                       "--max_message_bytes"))));
        }));
    accepted = std::min(accepted, TimeOf([&] { EXPECT_OK(Infer(*server, fits)); }));
  }
  // The kernel ran only for the accepted requests' examples.
  EXPECT_EQ(server->observer().Computed("up"), kRounds);
  EXPECT_EQ(server->observer().Count("up", absl::StatusCode::kResourceExhausted), kRounds);
  EXPECT_EQ(server->observer().Count("up", absl::StatusCode::kOk), kRounds);
  // A quarter of the work, computed and sent, still takes longer than the refusal.
  EXPECT_LT(refused, accepted) << "refused in " << refused << ", accepted in " << accepted;
  std::printf("refused in %s, a request with a quarter of the examples answered in %s\n",
              absl::FormatDuration(refused).c_str(), absl::FormatDuration(accepted).c_str());
}

}  // namespace
}  // namespace tconv::server::testing
