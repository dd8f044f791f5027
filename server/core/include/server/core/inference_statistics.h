// InferenceStatistics: per layer and version, the numbers Triton's statistics extension
// reports (ModelStatistics), counted from the very MetricsObserver events that feed /metrics.
//
// It sits between the event sources (the batchers, the transport's finished RPCs, the
// manager's layer added/removed) and the exporter: every event is counted here and then
// forwarded unchanged to `downstream`. So for a layer, the sum over its versions here equals
// the exporter's series of that layer, e.g. inference_count = tconv_inferences_total,
// execution_count = tconv_batch_executions_total, success.count = tconv_requests_total{code=OK}.
//
// Versions: a layer's statistics live from OnLayerAdded to OnLayerRemoved, like its series in
// the exporter; a replace adds a version and keeps the older ones' final numbers (so the sums
// still agree). Batches are counted into the version whose batcher ran them; finished RPCs into
// the version served when they finish (OnRequest carries no version). Thread-safe.
#ifndef TCONV_SERVER_CORE_INFERENCE_STATISTICS_H_
#define TCONV_SERVER_CORE_INFERENCE_STATISTICS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/metrics_observer.h"

namespace tconv::server {

struct StatisticDuration {
  int64_t count = 0;
  absl::Duration total = absl::ZeroDuration();
};

// One version's numbers, cumulative since it was first served in this process.
struct VersionStatistics {
  std::string layer;
  int64_t version = 0;
  absl::Time last_inference = absl::UnixEpoch();  // last finished request; epoch = none yet
  int64_t inference_count = 0;                    // examples computed (tconv_inferences_total)
  int64_t execution_count = 0;                    // kernel runs (tconv_batch_executions_total)
  StatisticDuration success;                      // RPCs answered OK, end to end
  StatisticDuration fail;                         // RPCs answered with an error
  StatisticDuration queue;                       // requests computed: enqueue -> start of their run
  StatisticDuration compute;                     // requests computed: the duration of their run
  std::map<int64_t, StatisticDuration> batches;  // batch size -> kernel runs of that size
};

class InferenceStatistics final : public MetricsObserver {
 public:
  // The counters of one version; the MetricsObserver a batcher of that version reports to.
  class Version final : public MetricsObserver {
   public:
    Version(InferenceStatistics* parent, const std::string& layer, int64_t version);
    void OnRequest(std::string_view layer, absl::StatusCode code, absl::Duration duration) override;
    void OnBatch(std::string_view layer, int64_t batch_size, absl::Duration compute,
                 const absl::Duration* queue_durations, int64_t num_requests) override;
    void OnQueueDepth(std::string_view layer, int64_t depth) override;
    void OnLayerAdded(std::string_view layer) override;
    void OnLayerRemoved(std::string_view layer) override;

   private:
    friend class InferenceStatistics;
    InferenceStatistics* const parent_;
    VersionStatistics stats_;  // guarded by parent_->mu_
  };

  // `downstream` (may be null) gets every event after it is counted; it must outlive this.
  explicit InferenceStatistics(MetricsObserver* downstream) : downstream_(downstream) {}
  ~InferenceStatistics() override;

  // The counters of `layer` at `version`: the ones being kept, or new ones that count nothing
  // visible until Serve(). The caller keeps the result alive as long as a batcher reports to it.
  std::shared_ptr<Version> ForVersion(const std::string& layer, int64_t version);
  // From now on the layer's finished RPCs count into `version`, which is kept (listed by Get)
  // until OnLayerRemoved.
  void Serve(const std::shared_ptr<Version>& version);

  // Every kept version of `layer` ("" = of every layer), sorted by layer then version; empty
  // when the layer has none.
  std::vector<VersionStatistics> Get(std::string_view layer) const;

  // MetricsObserver: OnRequest counts into the layer's served version; OnLayerRemoved drops the
  // layer's statistics. Everything is forwarded.
  void OnRequest(std::string_view layer, absl::StatusCode code, absl::Duration duration) override;
  void OnBatch(std::string_view layer, int64_t batch_size, absl::Duration compute,
               const absl::Duration* queue_durations, int64_t num_requests) override;
  void OnQueueDepth(std::string_view layer, int64_t depth) override;
  void OnLayerAdded(std::string_view layer) override;
  void OnLayerRemoved(std::string_view layer) override;

 private:
  struct Layer {
    std::shared_ptr<Version> served;
    std::map<int64_t, std::shared_ptr<Version>> versions;
  };

  MetricsObserver* const downstream_;
  // One lock for every counter: events are a few additions each, and a snapshot is then
  // consistent across versions.
  mutable std::mutex mu_;
  std::map<std::string, Layer, std::less<>> layers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_INFERENCE_STATISTICS_H_
