// Batching and metrics end to end: real clients against the in-process server, the numbers
// read back over HTTP from the real Prometheus exporter. Every count is compared with what the
// test itself sent; the answers with the kernel's Run on each request alone.
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"
#include "testing/status_matchers.h"
#include "tests/server/metrics_e2e/metrics_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

constexpr char kConfig[] = R"({"filters": 6, "kernel_size": 3, "strides": 2, "padding": "same",
                               "bias_initializer": "random_normal"})";
constexpr int64_t kChannels = 4;
constexpr uint64_t kSeed = 7;

client::LayerSpec Spec(const std::string& name, client::Batching batching) {
  client::LayerSpec spec;
  spec.name = name;
  spec.config_json = kConfig;
  spec.in_channels = kChannels;
  spec.seed = kSeed;
  spec.batching = batching;
  return spec;
}

// The same layer as the server's (same config, in_channels and seed give the same weights).
std::shared_ptr<const Conv2DTranspose> LocalLayer() {
  auto config = LayerConfig::FromJson(kConfig);
  auto weights = InitializeWeights(*config, kChannels, kSeed);
  return *Conv2DTranspose::Create(*config, kChannels, *std::move(weights));
}

client::CallOptions Timeout(absl::Duration timeout) { return client::CallOptions{timeout}; }

std::vector<float> Input(const std::vector<int64_t>& shape, uint64_t seed) {
  return RandomValues(shape[0] * shape[1] * shape[2] * shape[3], seed);
}

std::optional<double> Requests(const MetricsServer& server, const std::string& layer,
                               const std::string& code) {
  return server.Sample("tconv_requests_total", {{"layer", layer}, {"code", code}});
}

// Polls the exporter until `name{labels}` == value (at most 10 s).
bool WaitForSample(const MetricsServer& server, const std::string& name,
                   const tconv::testing::SampleLabels& labels, double value) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server.Sample(name, labels) != value) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// The histograms and counters of one layer agree with each other and with what was sent.
void ExpectConsistentBatches(const MetricsServer& server, const std::string& layer,
                             int64_t ok_requests, int64_t examples) {
  const tconv::testing::SampleLabels labels{{"layer", layer}};
  const std::optional<double> batches = server.Sample("tconv_batch_executions_total", labels);
  ASSERT_TRUE(batches.has_value());
  EXPECT_THAT(server.Sample("tconv_batch_size_count", labels), Optional(*batches));
  EXPECT_THAT(server.Sample("tconv_compute_duration_seconds_count", labels), Optional(*batches));
  EXPECT_THAT(server.Sample("tconv_batch_size_sum", labels), Optional(double(examples)));
  EXPECT_THAT(server.Sample("tconv_inferences_total", labels), Optional(double(examples)));
  EXPECT_THAT(server.Sample("tconv_queue_duration_seconds_count", labels),
              Optional(double(ok_requests)));
}

class MetricsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started = MetricsServer::Start();
    ASSERT_OK(started);
    server = *std::move(started);
  }
  std::unique_ptr<MetricsServer> server;
};

TEST_F(MetricsE2eTest, ConcurrentClientsAreBatchedAndEachGetsExactlyItsOwnRows) {
  // A 50 ms window makes the concurrent requests meet in the queue even on a loaded machine.
  ASSERT_OK(server->client().CreateLayer(Spec("merged", {16, absl::Milliseconds(50), 1024})));
  const auto layer = LocalLayer();
  constexpr int kCallers = 8;
  constexpr int kRounds = 4;
  absl::Notification go;
  std::vector<std::thread> callers;
  std::vector<int64_t> examples(kCallers, 0);
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      go.WaitForNotification();
      for (int round = 0; round < kRounds; ++round) {
        const std::vector<int64_t> shape = {1 + (i + round) % 3, 5, 6, kChannels};
        const std::vector<float> input = Input(shape, 1000 * i + round);
        auto answer = server->client().Infer("merged", input, shape, Timeout(absl::Seconds(60)));
        ASSERT_OK(answer);
        const Shape4 shape4 = {shape[0], shape[1], shape[2], shape[3]};
        auto out_shape = layer->OutputShape(shape4);
        std::vector<float> alone(out_shape->at(0) * out_shape->at(1) * out_shape->at(2) *
                                 out_shape->at(3));
        ASSERT_OK(layer->Run(input, shape4, absl::MakeSpan(alone), ComputePool::Default()));
        EXPECT_THAT(answer->shape, ::testing::ElementsAreArray(*out_shape));
        ASSERT_EQ(answer->values.size(), alone.size());
        EXPECT_EQ(std::memcmp(answer->values.data(), alone.data(), alone.size() * sizeof(float)), 0)
            << "caller " << i << " round " << round << ": not bit-identical to a run alone";
        examples[i] += shape[0];
      }
    });
  }
  go.Notify();
  for (std::thread& caller : callers) caller.join();
  int64_t total_examples = 0;
  for (int64_t count : examples) total_examples += count;

  constexpr int kRequests = kCallers * kRounds;
  EXPECT_THAT(Requests(*server, "merged", "OK"), Optional(double(kRequests)));
  ExpectConsistentBatches(*server, "merged", kRequests, total_examples);
  // Fewer kernel runs than requests: some runs merged several requests.
  const std::optional<double> runs =
      server->Sample("tconv_batch_size_count", {{"layer", "merged"}});
  ASSERT_TRUE(runs.has_value());
  EXPECT_LT(*runs, kRequests);
  EXPECT_GE(*runs, 1);
}

TEST_F(MetricsE2eTest, CountersAndHistogramCountsMatchTheRequestsSentExactly) {
  ASSERT_OK(server->client().CreateLayer(Spec("counted", {})));
  constexpr int kOk = 5;
  for (int i = 0; i < kOk; ++i) {
    ASSERT_OK(server->client().Infer("counted", Input({2, 4, 4, kChannels}, i), {2, 4, 4, 4}));
  }
  for (int i = 0; i < 2; ++i) {  // 5 channels where the layer takes 4
    EXPECT_THAT(server->client().Infer("counted", Input({1, 4, 4, 5}, i), {1, 4, 4, 5}),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(server->client().Infer("no_such_layer", Input({1, 4, 4, 4}, i), {1, 4, 4, 4}),
                StatusIs(absl::StatusCode::kNotFound));
  }

  EXPECT_THAT(Requests(*server, "counted", "OK"), Optional(double(kOk)));
  EXPECT_THAT(Requests(*server, "counted", "INVALID_ARGUMENT"), Optional(2.0));
  EXPECT_EQ(Requests(*server, "counted", "NOT_FOUND"), std::nullopt);
  // Unknown names are counted under layer="" so that clients cannot create series.
  EXPECT_THAT(Requests(*server, "", "NOT_FOUND"), Optional(3.0));
  EXPECT_EQ(Requests(*server, "no_such_layer", "NOT_FOUND"), std::nullopt);
  EXPECT_THAT(server->Sample("tconv_request_duration_seconds_count", {{"layer", "counted"}}),
              Optional(double(kOk + 2)));
  EXPECT_THAT(server->Sample("tconv_request_duration_seconds_count", {{"layer", ""}}),
              Optional(3.0));
  // One request at a time on an idle server: each request is its own kernel run.
  EXPECT_THAT(server->Sample("tconv_batch_executions_total", {{"layer", "counted"}}),
              Optional(double(kOk)));
  ExpectConsistentBatches(*server, "counted", kOk, 2 * kOk);
  EXPECT_THAT(server->Sample("tconv_queue_depth", {{"layer", "counted"}}), Optional(0.0));
  EXPECT_THAT(server->Sample("tconv_layers"), Optional(1.0));
  EXPECT_THAT(server->Sample("tconv_build_info", {{"version", kTestVersion}}), Optional(1.0));
}

TEST_F(MetricsE2eTest, RequestsWhoseDeadlinePassesInTheQueueAreNotComputed) {
  // The first request of a batch waits 2 s for company: far longer than the short deadlines,
  // which leave the requests time to reach the queue even on a loaded machine.
  ASSERT_OK(server->client().CreateLayer(Spec("slow", {64, absl::Seconds(2), 1024})));
  const std::vector<int64_t> shape = {1, 4, 4, kChannels};
  std::vector<std::future<absl::Status>> expiring;
  for (int i = 0; i < 3; ++i) {
    auto answer = std::make_shared<std::promise<absl::Status>>();
    expiring.push_back(answer->get_future());
    server->client().InferAsync(
        "slow", Input(shape, i), shape,
        [answer](absl::StatusOr<client::Tensor> result) { answer->set_value(result.status()); },
        Timeout(absl::Milliseconds(500)));
  }
  for (auto& answer : expiring) {
    EXPECT_THAT(answer.get(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  }
  // Still queued on the server; this one shares their batch (or runs after it) and is computed.
  ASSERT_OK(server->client().Infer("slow", Input(shape, 9), shape, Timeout(absl::Seconds(30))));

  EXPECT_THAT(Requests(*server, "slow", "DEADLINE_EXCEEDED"), Optional(3.0));
  EXPECT_THAT(Requests(*server, "slow", "OK"), Optional(1.0));
  ExpectConsistentBatches(*server, "slow", /*ok_requests=*/1, /*examples=*/1);
  EXPECT_THAT(server->Sample("tconv_batch_executions_total", {{"layer", "slow"}}), Optional(1.0));
}

TEST_F(MetricsE2eTest, FullQueueRefusesWithResourceExhaustedAndTheServerStaysHealthy) {
  // Two examples fill the queue; the 2 s window keeps them there.
  ASSERT_OK(server->client().CreateLayer(Spec("tight", {8, absl::Seconds(2), 2})));
  const std::vector<int64_t> shape = {1, 3, 3, kChannels};
  std::vector<std::future<absl::Status>> queued;
  for (int i = 0; i < 2; ++i) {
    auto answer = std::make_shared<std::promise<absl::Status>>();
    queued.push_back(answer->get_future());
    server->client().InferAsync(
        "tight", Input(shape, i), shape,
        [answer](absl::StatusOr<client::Tensor> result) { answer->set_value(result.status()); },
        Timeout(absl::Seconds(30)));
  }
  ASSERT_TRUE(WaitForSample(*server, "tconv_queue_depth", {{"layer", "tight"}}, 2.0));

  EXPECT_THAT(server->client().Infer("tight", Input(shape, 5), shape),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("is full")));
  const std::vector<int64_t> big = {3, 3, 3, kChannels};  // more than the queue can ever hold
  EXPECT_THAT(server->client().Infer("tight", Input(big, 6), big),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_queue_size 2")));
  EXPECT_THAT(server->client().Health(), IsOkAndHolds(client::ServingStatus::kServing));
  for (auto& answer : queued) EXPECT_OK(answer.get());
  EXPECT_OK(server->client().Infer("tight", Input(shape, 7), shape));  // room again

  EXPECT_THAT(Requests(*server, "tight", "RESOURCE_EXHAUSTED"), Optional(2.0));
  EXPECT_THAT(Requests(*server, "tight", "OK"), Optional(3.0));
  ExpectConsistentBatches(*server, "tight", 3, 3);
  EXPECT_THAT(server->Sample("tconv_queue_depth", {{"layer", "tight"}}), Optional(0.0));
}

TEST_F(MetricsE2eTest, DeletedLayersSeriesAreGone) {
  ASSERT_OK(server->client().CreateLayer(Spec("doomed", {})));
  ASSERT_OK(server->client().CreateLayer(Spec("kept", {})));
  const std::vector<int64_t> shape = {1, 3, 3, kChannels};
  ASSERT_OK(server->client().Infer("doomed", Input(shape, 1), shape));
  ASSERT_OK(server->client().Infer("kept", Input(shape, 2), shape));
  absl::StatusOr<std::string> before = server->Scrape();
  ASSERT_OK(before);
  EXPECT_THAT(*before, HasSubstr("layer=\"doomed\""));
  EXPECT_THAT(server->Sample("tconv_layers"), Optional(2.0));

  ASSERT_OK(server->client().DeleteLayer("doomed"));
  EXPECT_THAT(server->client().Infer("doomed", Input(shape, 3), shape),
              StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::string> after = server->Scrape();
  ASSERT_OK(after);
  EXPECT_THAT(*after, Not(HasSubstr("\"doomed\"")));
  EXPECT_THAT(*after, HasSubstr("layer=\"kept\""));
  EXPECT_THAT(server->Sample("tconv_layers"), Optional(1.0));
  EXPECT_THAT(Requests(*server, "", "NOT_FOUND"), Optional(1.0));
  EXPECT_THAT(Requests(*server, "kept", "OK"), Optional(1.0));
}

TEST_F(MetricsE2eTest, ServerMetadataListsTheImplementedExtensions) {
  absl::StatusOr<client::ServerMetadata> metadata = server->client().GetServerMetadata();
  ASSERT_OK(metadata);
  EXPECT_EQ(metadata->name, "tconv");
  EXPECT_EQ(metadata->version, kTestVersion);
  // model_repository: RepositoryIndex / RepositoryModelLoad / RepositoryModelUnload answer.
  EXPECT_THAT(metadata->extensions,
              ::testing::UnorderedElementsAre("model_repository", "model_configuration",
                                              "statistics", "system_shared_memory"));
  EXPECT_OK(server->client().RepositoryIndex());
}

}  // namespace
}  // namespace tconv::server::testing
