#include "server/metrics/prometheus_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/exposition.h"
#include "testing/http_get.h"
#include "testing/status_matchers.h"

namespace tconv::server {
namespace {

using tconv::testing::HttpGet;
using tconv::testing::SampleValue;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

class PrometheusMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto metrics = PrometheusMetrics::Create({"127.0.0.1:0", "1.2.3"});
    ASSERT_OK(metrics);
    metrics_ = std::move(*metrics);
    ASSERT_GT(metrics_->port(), 0);
  }
  // Scrapes /metrics over HTTP, as Prometheus does.
  std::string Scrape() {
    auto body = HttpGet(metrics_->port(), "/metrics");
    EXPECT_OK(body);
    return body.ok() ? *body : "";
  }
  std::unique_ptr<PrometheusMetrics> metrics_;
};

TEST_F(PrometheusMetricsTest, ServesBuildInfoAndProcessMetrics) {
  const std::string text = Scrape();
  EXPECT_THAT(SampleValue(text, "tconv_build_info", {{"version", "1.2.3"}}), Optional(1.0));
  EXPECT_THAT(SampleValue(text, "tconv_layers"), Optional(0.0));
  EXPECT_THAT(SampleValue(text, "process_resident_memory_bytes"), Optional(::testing::Gt(0.0)));
  EXPECT_THAT(SampleValue(text, "process_open_fds"), Optional(::testing::Gt(0.0)));
}

TEST_F(PrometheusMetricsTest, CountsRequestsByLayerAndCode) {
  metrics_->OnLayerAdded("gen");
  for (int i = 0; i < 3; ++i) {
    metrics_->OnRequest("gen", absl::StatusCode::kOk, absl::Microseconds(150));
  }
  metrics_->OnRequest("gen", absl::StatusCode::kInvalidArgument, absl::Milliseconds(2));
  const std::string text = Scrape();
  EXPECT_THAT(SampleValue(text, "tconv_requests_total", {{"layer", "gen"}, {"code", "OK"}}),
              Optional(3.0));
  EXPECT_THAT(
      SampleValue(text, "tconv_requests_total", {{"layer", "gen"}, {"code", "INVALID_ARGUMENT"}}),
      Optional(1.0));
  EXPECT_THAT(SampleValue(text, "tconv_request_duration_seconds_count", {{"layer", "gen"}}),
              Optional(4.0));
  // 150 µs falls in the (100 µs, 200 µs] bucket; 2 ms in (1 ms, 2 ms].
  EXPECT_THAT(SampleValue(text, "tconv_request_duration_seconds_bucket",
                          {{"layer", "gen"}, {"le", "0.0001"}}),
              Optional(0.0));
  EXPECT_THAT(SampleValue(text, "tconv_request_duration_seconds_bucket",
                          {{"layer", "gen"}, {"le", "0.0002"}}),
              Optional(3.0));
  EXPECT_THAT(SampleValue(text, "tconv_request_duration_seconds_bucket",
                          {{"layer", "gen"}, {"le", "0.002"}}),
              Optional(4.0));
  EXPECT_THAT(SampleValue(text, "tconv_layers"), Optional(1.0));
}

TEST_F(PrometheusMetricsTest, RecordsBatches) {
  metrics_->OnLayerAdded("gen");
  const absl::Duration queued[] = {absl::Microseconds(20), absl::Microseconds(700)};
  metrics_->OnBatch("gen", 5, absl::Milliseconds(3), queued, 2);
  metrics_->OnQueueDepth("gen", 7);
  const std::string text = Scrape();
  EXPECT_THAT(SampleValue(text, "tconv_inferences_total", {{"layer", "gen"}}), Optional(5.0));
  EXPECT_THAT(SampleValue(text, "tconv_batch_executions_total", {{"layer", "gen"}}), Optional(1.0));
  EXPECT_THAT(SampleValue(text, "tconv_batch_size_sum", {{"layer", "gen"}}), Optional(5.0));
  EXPECT_THAT(SampleValue(text, "tconv_batch_size_bucket", {{"layer", "gen"}, {"le", "4"}}),
              Optional(0.0));
  EXPECT_THAT(SampleValue(text, "tconv_batch_size_bucket", {{"layer", "gen"}, {"le", "8"}}),
              Optional(1.0));
  EXPECT_THAT(SampleValue(text, "tconv_queue_duration_seconds_count", {{"layer", "gen"}}),
              Optional(2.0));
  EXPECT_THAT(SampleValue(text, "tconv_compute_duration_seconds_count", {{"layer", "gen"}}),
              Optional(1.0));
  EXPECT_THAT(SampleValue(text, "tconv_queue_depth", {{"layer", "gen"}}), Optional(7.0));
}

TEST_F(PrometheusMetricsTest, RemovedLayerSeriesDisappear) {
  metrics_->OnLayerAdded("old");
  metrics_->OnLayerAdded("kept");
  metrics_->OnRequest("old", absl::StatusCode::kOk, absl::Milliseconds(1));
  metrics_->OnLayerRemoved("old");
  const std::string text = Scrape();
  EXPECT_THAT(text, Not(HasSubstr("layer=\"old\"")));
  EXPECT_THAT(SampleValue(text, "tconv_inferences_total", {{"layer", "kept"}}), Optional(0.0));
  EXPECT_THAT(SampleValue(text, "tconv_layers"), Optional(1.0));
}

TEST_F(PrometheusMetricsTest, UnservedLayerNamesDoNotCreateSeries) {
  metrics_->OnRequest("made-up-1", absl::StatusCode::kNotFound, absl::Microseconds(30));
  metrics_->OnRequest("made-up-2", absl::StatusCode::kNotFound, absl::Microseconds(30));
  metrics_->OnQueueDepth("made-up-3", 5);
  const std::string text = Scrape();
  EXPECT_THAT(text, Not(HasSubstr("made-up")));
  EXPECT_THAT(SampleValue(text, "tconv_requests_total", {{"layer", ""}, {"code", "NOT_FOUND"}}),
              Optional(2.0));
}

TEST(PrometheusMetricsCreateTest, RefusesAnAddressInUse) {
  auto first = PrometheusMetrics::Create({"127.0.0.1:0", "x"});
  ASSERT_OK(first);
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_THAT(PrometheusMetrics::Create({taken, "x"}),
              tconv::testing::StatusIs(absl::StatusCode::kUnavailable, HasSubstr(taken)));
}

}  // namespace
}  // namespace tconv::server
