// Layer versions through a real in-process server: every replace (CreateLayer with replace, or
// RepositoryModelLoad of a folder changed on disk) serves the next number, which metadata, the
// repository index, statistics and answers report and a restart keeps; other versions are
// NOT_FOUND; a request accepted by the old version is answered by it, with its weights.
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/npy/npy.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"({"filters": 6, "kernel_size": 3, "strides": 2, "padding": "same",
                               "bias_initializer": "random_normal"})";
constexpr int64_t kChannels = 4;
const std::vector<int64_t> kShape = {1, 5, 5, kChannels};

std::unique_ptr<TestServer> StartOn(const std::string& dir, BatchingOptions batching = {}) {
  TestServer::Options options;
  options.repository_dir = dir;
  options.batching = batching;
  auto server = TestServer::Start(options);
  EXPECT_OK(server);
  return server.ok() ? *std::move(server) : nullptr;
}

absl::Status Replace(TestServer& server, const std::string& name, uint64_t seed) {
  auto request = SeededLayer(name, kConfig, kChannels, seed);
  request.set_replace(true);
  return CreateLayer(server, request);
}

std::vector<std::string> MetadataVersions(TestServer& server, const std::string& name) {
  inference::ModelMetadataRequest request;
  request.set_name(name);
  inference::ModelMetadataResponse response;
  EXPECT_OK(ToAbsl(server.oip().ModelMetadata(Context().get(), request, &response)));
  return {response.versions().begin(), response.versions().end()};
}

std::string IndexVersion(TestServer& server, const std::string& name) {
  inference::RepositoryIndexResponse response;
  EXPECT_OK(ToAbsl(server.oip().RepositoryIndex(Context().get(), {}, &response)));
  for (const auto& model : response.models()) {
    if (model.name() == name) return model.version();
  }
  return "(not listed)";
}

absl::StatusOr<inference::ModelInferResponse> InferVersion(TestServer& server,
                                                           const std::string& name,
                                                           const std::string& version,
                                                           uint64_t input_seed = 3) {
  auto request = RawInfer(name, kShape, RandomValues(5 * 5 * kChannels, input_seed));
  request.set_model_version(version);
  return Infer(server, request);
}

absl::Status LoadFromDisk(TestServer& server, const std::string& name) {
  inference::RepositoryModelLoadRequest request;
  request.set_model_name(name);
  inference::RepositoryModelLoadResponse response;
  return ToAbsl(server.oip().RepositoryModelLoad(Context().get(), request, &response));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(VersionsTest, EachReplaceServesTheNextVersionAndARestartKeepsIt) {
  TempDir dir;
  {
    auto server = StartOn(dir.path());
    ASSERT_NE(server, nullptr);
    ASSERT_OK(CreateLayer(*server, SeededLayer("v", kConfig, kChannels, 1)));
    EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("1"));
    EXPECT_EQ(IndexVersion(*server, "v"), "1");
    auto v1 = InferVersion(*server, "v", "");
    ASSERT_OK(v1);
    EXPECT_EQ(v1->model_version(), "1");

    ASSERT_OK(Replace(*server, "v", 2));  // replace 1: CreateLayer with replace
    EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("2"));
    EXPECT_EQ(IndexVersion(*server, "v"), "2");
    auto v2 = InferVersion(*server, "v", "2");
    ASSERT_OK(v2);
    EXPECT_EQ(v2->model_version(), "2");
    EXPECT_NE(RawOutput(*v2), RawOutput(*v1));

    // Reloading the unchanged folder is no replace.
    ASSERT_OK(LoadFromDisk(*server, "v"));
    EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("2"));

    // Replace 2: new weights written into the folder by hand, then RepositoryModelLoad.
    const std::vector<int64_t> kernel_shape = {3, 3, 6, kChannels};
    {
      std::ofstream kernel(dir.path() + "/v/kernel.npy", std::ios::binary | std::ios::trunc);
      kernel << SerializeNpy(kernel_shape, RandomValues(3 * 3 * 6 * kChannels, 99));
    }
    ASSERT_OK(LoadFromDisk(*server, "v"));
    EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("3"));
    EXPECT_EQ(IndexVersion(*server, "v"), "3");
    EXPECT_THAT(ReadFile(dir.path() + "/v/config.json"), HasSubstr("\"version\": 3"));
    auto v3 = InferVersion(*server, "v", "3");
    ASSERT_OK(v3);
    EXPECT_EQ(v3->model_version(), "3");
    EXPECT_NE(RawOutput(*v3), RawOutput(*v2));

    // Only the served version answers; the others are NOT_FOUND naming both.
    for (const std::string other : {"1", "2", "4", "03", "x"}) {
      EXPECT_THAT(
          InferVersion(*server, "v", other),
          StatusIs(absl::StatusCode::kNotFound,
                   HasSubstr(absl::StrCat("no version '", other, "'; it serves version '3'"))));
    }
    inference::ModelReadyRequest ready;
    ready.set_name("v");
    ready.set_version("2");
    inference::ModelReadyResponse ready_response;
    ASSERT_OK(ToAbsl(server->oip().ModelReady(Context().get(), ready, &ready_response)));
    EXPECT_FALSE(ready_response.ready());
    ready.set_version("3");
    ASSERT_OK(ToAbsl(server->oip().ModelReady(Context().get(), ready, &ready_response)));
    EXPECT_TRUE(ready_response.ready());
    inference::ModelConfigRequest config;
    config.set_name("v");
    config.set_version("1");
    inference::ModelConfigResponse config_response;
    EXPECT_THAT(ToAbsl(server->oip().ModelConfig(Context().get(), config, &config_response)),
                StatusIs(absl::StatusCode::kNotFound));

    // Statistics keep every version served since the layer was added, each with its own count.
    inference::ModelStatisticsRequest stats_request;
    stats_request.set_name("v");
    inference::ModelStatisticsResponse stats;
    ASSERT_OK(ToAbsl(server->oip().ModelStatistics(Context().get(), stats_request, &stats)));
    ASSERT_EQ(stats.model_stats_size(), 3);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(stats.model_stats(i).version(), absl::StrCat(i + 1));
      EXPECT_EQ(stats.model_stats(i).inference_count(), 1u) << "version " << i + 1;
    }
  }
  auto server = StartOn(dir.path());
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("3"));
  EXPECT_EQ(IndexVersion(*server, "v"), "3");
  ASSERT_OK(Replace(*server, "v", 5));
  EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("4"));
  // A deleted layer's number is gone with its folder: a new layer of that name starts at 1.
  tconv::v1::DeleteLayerRequest del;
  del.set_name("v");
  tconv::v1::DeleteLayerResponse del_response;
  ASSERT_OK(ToAbsl(server->layers().DeleteLayer(Context().get(), del, &del_response)));
  ASSERT_OK(CreateLayer(*server, SeededLayer("v", kConfig, kChannels, 1)));
  EXPECT_THAT(MetadataVersions(*server, "v"), ElementsAre("1"));
}

TEST(VersionsTest, ARequestInFlightOnTheOldVersionIsAnsweredWithItsWeights) {
  TempDir dir;
  // A 5 s batching window holds the request in version 1's queue while the replace happens.
  BatchingOptions batching;
  batching.max_batch_size = 8;
  batching.batch_timeout = absl::Seconds(5);
  auto server = StartOn(dir.path(), batching);
  ASSERT_NE(server, nullptr);
  // The answers of both weight sets, from reference layers that batch nothing.
  std::vector<float> expected[3];
  for (uint64_t seed : {1, 2}) {
    const std::string name = absl::StrCat("ref", seed);
    auto request = SeededLayer(name, kConfig, kChannels, seed);
    request.mutable_batching()->set_max_batch_size(1);
    ASSERT_OK(CreateLayer(*server, request));
    auto response = InferVersion(*server, name, "");
    ASSERT_OK(response);
    expected[seed] = RawOutput(*response);
  }
  ASSERT_NE(expected[1], expected[2]);
  ASSERT_OK(CreateLayer(*server, SeededLayer("held", kConfig, kChannels, 1)));

  absl::StatusOr<inference::ModelInferResponse> in_flight;
  std::thread caller([&] { in_flight = InferVersion(*server, "held", "1"); });
  const absl::Time deadline = absl::Now() + absl::Seconds(4);
  while (server->observer().QueueDepth("held") < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(server->observer().QueueDepth("held"), 1) << "the request never reached the queue";
  // The replace retires version 1, whose batcher then runs what it holds at once.
  const absl::Time replace_start = absl::Now();
  auto replace = SeededLayer("held", kConfig, kChannels, 2);
  replace.set_replace(true);
  replace.mutable_batching()->set_max_batch_size(1);  // version 2 answers without a window
  ASSERT_OK(CreateLayer(*server, replace));
  caller.join();
  EXPECT_LT(absl::Now() - replace_start, absl::Seconds(4)) << "the old queue was not flushed";
  ASSERT_OK(in_flight);
  EXPECT_EQ(in_flight->model_version(), "1");
  EXPECT_EQ(RawOutput(*in_flight), expected[1]);

  // From now on version 2 answers, with its weights; version 1 is gone.
  auto request = RawInfer("held", kShape, RandomValues(5 * 5 * kChannels, 3));
  auto after = Infer(*server, request);
  ASSERT_OK(after);
  EXPECT_EQ(after->model_version(), "2");
  EXPECT_EQ(RawOutput(*after), expected[2]);
  EXPECT_THAT(InferVersion(*server, "held", "1"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace tconv::server::testing
