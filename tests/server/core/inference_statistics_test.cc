// InferenceStatistics without a server: each event is counted into the right version and
// reaches the downstream observer unchanged, so the two can never disagree.
#include "server/core/inference_statistics.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/recording_observer.h"

namespace tconv::server {
namespace {

using ::tconv::testing::RecordingObserver;

TEST(InferenceStatisticsTest, CountsEachVersionAndForwardsEverything) {
  // Sums what reaches the exporter, per layer, as Prometheus would.
  RecordingObserver downstream;
  InferenceStatistics statistics(&downstream);
  statistics.OnLayerAdded("a");
  auto v1 = statistics.ForVersion("a", 1);
  EXPECT_TRUE(statistics.Get("a").empty()) << "not served yet";
  statistics.Serve(v1);
  const absl::Duration queued[] = {absl::Microseconds(5), absl::Microseconds(7)};
  v1->OnBatch("a", 3, absl::Microseconds(100), queued, 2);
  v1->OnQueueDepth("a", 4);
  statistics.OnRequest("a", absl::StatusCode::kOk, absl::Microseconds(300));
  statistics.OnRequest("a", absl::StatusCode::kInvalidArgument, absl::Microseconds(10));
  statistics.OnRequest("unknown", absl::StatusCode::kNotFound, absl::Microseconds(1));

  // A replace: version 2 serves; version 1's batcher still finishes a batch, counted as v1's.
  auto v2 = statistics.ForVersion("a", 2);
  statistics.Serve(v2);
  v1->OnBatch("a", 1, absl::Microseconds(50), queued, 1);
  v2->OnBatch("a", 2, absl::Microseconds(80), queued, 1);
  statistics.OnRequest("a", absl::StatusCode::kOk, absl::Microseconds(90));
  // The same version asked again (an unchanged reload) gets the same counters.
  EXPECT_EQ(statistics.ForVersion("a", 2), v2);

  const std::vector<VersionStatistics> got = statistics.Get("a");
  ASSERT_EQ(got.size(), 2u);
  const VersionStatistics& one = got[0];
  EXPECT_EQ(one.version, 1);
  EXPECT_EQ(one.inference_count, 4);
  EXPECT_EQ(one.execution_count, 2);
  EXPECT_EQ(one.queue.count, 3);
  EXPECT_EQ(one.queue.total, absl::Microseconds(5 + 7 + 5));
  EXPECT_EQ(one.compute.count, 3);
  EXPECT_EQ(one.compute.total, absl::Microseconds(100 + 100 + 50));
  EXPECT_EQ(one.success.count, 1);
  EXPECT_EQ(one.success.total, absl::Microseconds(300));
  EXPECT_EQ(one.fail.count, 1);
  EXPECT_EQ(one.batches.at(3).count, 1);
  EXPECT_EQ(one.batches.at(1).total, absl::Microseconds(50));
  const VersionStatistics& two = got[1];
  EXPECT_EQ(two.version, 2);
  EXPECT_EQ(two.inference_count, 2);
  EXPECT_EQ(two.success.count, 1);
  EXPECT_GT(two.last_inference, absl::UnixEpoch());

  // Downstream saw every event, so its per-layer sums are the sums over versions.
  EXPECT_EQ(downstream.Computed("a"), one.inference_count + two.inference_count);
  EXPECT_EQ(downstream.ComputeTotal("a"), absl::Microseconds(100 + 50 + 80));
  EXPECT_EQ(downstream.Count("a", absl::StatusCode::kOk), 2);
  EXPECT_EQ(downstream.Count("a", absl::StatusCode::kInvalidArgument), 1);
  EXPECT_EQ(downstream.Count("unknown", absl::StatusCode::kNotFound), 1);
  EXPECT_EQ(downstream.QueueDepth("a"), 4);
  EXPECT_EQ(downstream.added("a"), 1);
  EXPECT_TRUE(statistics.Get("unknown").empty());

  // Every layer for ""; removal drops the layer's statistics (and is forwarded).
  statistics.OnLayerAdded("b");
  statistics.Serve(statistics.ForVersion("b", 7));
  ASSERT_EQ(statistics.Get("").size(), 3u);
  EXPECT_EQ(statistics.Get("")[2].layer, "b");
  statistics.OnLayerRemoved("a");
  EXPECT_TRUE(statistics.Get("a").empty());
  EXPECT_EQ(downstream.removed("a"), 1);
  EXPECT_EQ(statistics.Get("").size(), 1u);
}

TEST(InferenceStatisticsTest, WorksWithoutDownstream) {
  InferenceStatistics statistics(nullptr);
  auto v = statistics.ForVersion("a", 1);
  statistics.Serve(v);
  v->OnBatch("a", 2, absl::Microseconds(1), nullptr, 0);
  statistics.OnRequest("a", absl::StatusCode::kOk, absl::Microseconds(1));
  ASSERT_EQ(statistics.Get("a").size(), 1u);
  EXPECT_EQ(statistics.Get("a")[0].inference_count, 2);
}

}  // namespace
}  // namespace tconv::server
