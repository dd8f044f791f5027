// Triton's statistics extension end to end: ModelStatistics after real traffic (concurrent,
// merged into batches, some requests failing) counts what the test sent, and equals the
// Prometheus series scraped from /metrics at the same moment.
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "inference/grpc_service.grpc.pb.h"
#include "testing/exposition.h"
#include "testing/status_matchers.h"
#include "tests/server/metrics_e2e/metrics_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::SampleValue;
using ::tconv::testing::StatusIs;

constexpr char kConfig[] = R"({"filters": 6, "kernel_size": 3, "strides": 2, "padding": "same"})";
constexpr int64_t kChannels = 4;

client::LayerSpec Spec(const std::string& name, client::Batching batching) {
  client::LayerSpec spec;
  spec.name = name;
  spec.config_json = kConfig;
  spec.in_channels = kChannels;
  spec.seed = 3;
  spec.batching = batching;
  return spec;
}

absl::StatusOr<inference::ModelStatisticsResponse> Statistics(
    inference::GRPCInferenceService::Stub& stub, const std::string& name,
    const std::string& version = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  inference::ModelStatisticsRequest request;
  request.set_name(name);
  request.set_version(version);
  inference::ModelStatisticsResponse response;
  const grpc::Status status = stub.ModelStatistics(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return response;
}

// A Prometheus sample of `text` for layer "stats" (and more labels), or NaN when absent.
double Sample(const std::string& text, const std::string& name,
              tconv::testing::SampleLabels labels = {}) {
  labels["layer"] = "stats";
  return SampleValue(text, name, labels).value_or(std::nan(""));
}

// Nanoseconds counted by the statistics vs. a Prometheus sum of seconds (a double).
void ExpectSameDuration(uint64_t ns, double seconds, const char* what) {
  EXPECT_NEAR(static_cast<double>(ns), seconds * 1e9, 1000.0 + 1e-9 * seconds * 1e9) << what;
}

TEST(StatisticsE2eTest, ModelStatisticsCountTheTrafficAndEqualTheScrapedMetrics) {
  auto started = MetricsServer::Start();
  ASSERT_OK(started);
  MetricsServer& server = **started;
  // A 20 ms window merges the concurrent requests into batches of several sizes.
  ASSERT_OK(server.client().CreateLayer(Spec("stats", {8, absl::Milliseconds(20), 1024})));
  ASSERT_OK(server.client().CreateLayer(Spec("idle", {})));
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  const absl::Time start = absl::Now();

  constexpr int kCallers = 4;
  constexpr int kRounds = 3;
  constexpr int kFailures = 3;
  std::vector<int64_t> examples(kCallers, 0);
  absl::Notification go;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      go.WaitForNotification();
      for (int round = 0; round < kRounds; ++round) {
        const std::vector<int64_t> shape = {1 + (i + round) % 3, 5, 5, kChannels};
        const std::vector<float> input(shape[0] * 5 * 5 * kChannels, 0.5f);
        ASSERT_OK(server.client().Infer("stats", input, shape));
        examples[i] += shape[0];
      }
    });
  }
  go.Notify();
  for (std::thread& caller : callers) caller.join();
  // Failing requests: channels that do not fit the layer (refused by its batcher).
  for (int i = 0; i < kFailures; ++i) {
    const std::vector<int64_t> shape = {1, 5, 5, kChannels + 1};
    const std::vector<float> input(5 * 5 * (kChannels + 1), 0.5f);
    EXPECT_THAT(server.client().Infer("stats", input, shape),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  int64_t total_examples = 0;
  for (int64_t count : examples) total_examples += count;
  constexpr int kOk = kCallers * kRounds;

  // Every answer has been counted before it was sent, so both reads see the same numbers.
  absl::StatusOr<std::string> text = server.Scrape();
  ASSERT_OK(text);
  auto stats = Statistics(*stub, "stats");
  ASSERT_OK(stats);
  ASSERT_EQ(stats->model_stats_size(), 1);
  const inference::ModelStatistics& s = stats->model_stats(0);
  EXPECT_EQ(s.name(), "stats");
  EXPECT_EQ(s.version(), "1");
  EXPECT_GE(s.last_inference(), static_cast<uint64_t>(absl::ToUnixMillis(start)));
  EXPECT_LE(s.last_inference(), static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())));

  // What the test sent.
  const inference::InferStatistics& is = s.inference_stats();
  EXPECT_EQ(is.success().count(), static_cast<uint64_t>(kOk));
  EXPECT_EQ(is.fail().count(), static_cast<uint64_t>(kFailures));
  EXPECT_EQ(s.inference_count(), static_cast<uint64_t>(total_examples));
  EXPECT_EQ(is.queue().count(), static_cast<uint64_t>(kOk));
  EXPECT_EQ(is.compute_infer().count(), static_cast<uint64_t>(kOk));
  EXPECT_GT(is.compute_infer().ns(), 0u);
  EXPECT_GT(s.execution_count(), 0u);
  EXPECT_LT(s.execution_count(), static_cast<uint64_t>(kOk)) << "no request was merged";
  uint64_t runs = 0, batched_examples = 0, batch_ns = 0;
  for (const auto& batch : s.batch_stats()) {
    EXPECT_GE(batch.batch_size(), 1u);
    EXPECT_LE(batch.batch_size(), 8u);
    EXPECT_EQ(batch.compute_input().count(), batch.compute_infer().count());
    runs += batch.compute_infer().count();
    batched_examples += batch.batch_size() * batch.compute_infer().count();
    batch_ns += batch.compute_infer().ns();
  }
  EXPECT_EQ(runs, s.execution_count());
  EXPECT_EQ(batched_examples, s.inference_count());

  // The same numbers as /metrics.
  EXPECT_EQ(is.success().count(), Sample(*text, "tconv_requests_total", {{"code", "OK"}}));
  EXPECT_EQ(is.fail().count(),
            Sample(*text, "tconv_requests_total", {{"code", "INVALID_ARGUMENT"}}));
  ExpectSameDuration(is.success().ns() + is.fail().ns(),
                     Sample(*text, "tconv_request_duration_seconds_sum"), "request durations");
  EXPECT_EQ(is.success().count() + is.fail().count(),
            Sample(*text, "tconv_request_duration_seconds_count"));
  EXPECT_EQ(s.inference_count(), Sample(*text, "tconv_inferences_total"));
  EXPECT_EQ(s.execution_count(), Sample(*text, "tconv_batch_executions_total"));
  EXPECT_EQ(runs, Sample(*text, "tconv_batch_size_count"));
  EXPECT_EQ(batched_examples, Sample(*text, "tconv_batch_size_sum"));
  EXPECT_EQ(is.queue().count(), Sample(*text, "tconv_queue_duration_seconds_count"));
  ExpectSameDuration(is.queue().ns(), Sample(*text, "tconv_queue_duration_seconds_sum"),
                     "queue durations");
  EXPECT_EQ(runs, Sample(*text, "tconv_compute_duration_seconds_count"));
  ExpectSameDuration(batch_ns, Sample(*text, "tconv_compute_duration_seconds_sum"),
                     "compute durations");

  // Every layer for an empty name; an idle layer has zeros; unknown names and versions are
  // NOT_FOUND.
  auto all = Statistics(*stub, "");
  ASSERT_OK(all);
  ASSERT_EQ(all->model_stats_size(), 2);
  EXPECT_EQ(all->model_stats(0).name(), "idle");
  EXPECT_EQ(all->model_stats(0).inference_count(), 0u);
  EXPECT_EQ(all->model_stats(0).last_inference(), 0u);
  EXPECT_EQ(all->model_stats(1).name(), "stats");
  EXPECT_OK(Statistics(*stub, "stats", "1"));
  EXPECT_THAT(Statistics(*stub, "stats", "2"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Statistics(*stub, "no_such_layer"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Statistics(*stub, "", "1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Statistics(*stub, "bad/name"), StatusIs(absl::StatusCode::kInvalidArgument));

  // A deleted layer's statistics go with its series.
  ASSERT_OK(server.client().DeleteLayer("stats"));
  EXPECT_THAT(Statistics(*stub, "stats"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace tconv::server::testing
