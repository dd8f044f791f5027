// MetricsObserver: what the core reports about its work, without knowing how it is exported.
// server/metrics implements it with prometheus-cpp; tests may implement it with counters.
// Implementations must be thread-safe: every method may be called from any thread.
#ifndef TCONV_SERVER_CORE_METRICS_OBSERVER_H_
#define TCONV_SERVER_CORE_METRICS_OBSERVER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tconv::server {

class MetricsObserver {
 public:
  virtual ~MetricsObserver() = default;

  // One finished inference RPC (any outcome), end to end as the server saw it.
  virtual void OnRequest(std::string_view layer, absl::StatusCode code,
                         absl::Duration duration) = 0;
  // One kernel run of `batch_size` examples; `queue_durations` one per request in it.
  virtual void OnBatch(std::string_view layer, int64_t batch_size, absl::Duration compute,
                       const absl::Duration* queue_durations, int64_t num_requests) = 0;
  // Examples currently waiting in the layer's queue.
  virtual void OnQueueDepth(std::string_view layer, int64_t depth) = 0;
  // Layers being served changed; a removed layer's series must disappear.
  virtual void OnLayerAdded(std::string_view layer) = 0;
  virtual void OnLayerRemoved(std::string_view layer) = 0;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_METRICS_OBSERVER_H_
