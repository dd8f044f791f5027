// PrometheusMetrics: the MetricsObserver that exports tconv's numbers with prometheus-cpp on
// their own HTTP address (path /metrics), named by Prometheus conventions:
//
//   tconv_requests_total{layer,code}          inference RPCs by gRPC status code name
//   tconv_inferences_total{layer}             examples computed
//   tconv_batch_executions_total{layer}       kernel runs
//   tconv_request_duration_seconds{layer}     histogram, end to end as the server saw it
//   tconv_queue_duration_seconds{layer}       histogram, enqueue -> start of its kernel run
//   tconv_compute_duration_seconds{layer}     histogram, one kernel run
//   tconv_batch_size{layer}                   histogram, examples per kernel run
//   tconv_queue_depth{layer}                  gauge, examples waiting
//   tconv_layers                              gauge, layers being served
//   tconv_build_info{version}                 gauge, always 1
//   process_*                                 CPU seconds, resident memory, open fds, start time
//
// A layer's series exist from OnLayerAdded to OnLayerRemoved, so deleting layers never grows
// the label sets. Requests for a layer that is not served (unknown names, or the last answers
// of a just-deleted layer) are counted under layer="" so that a client cannot create series
// by inventing names.
#ifndef TCONV_SERVER_METRICS_PROMETHEUS_METRICS_H_
#define TCONV_SERVER_METRICS_PROMETHEUS_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/metrics_observer.h"

namespace tconv::server {

class PrometheusMetrics final : public MetricsObserver {
 public:
  struct Options {
    std::string address = "0.0.0.0:8002";  // HOST:PORT; port 0 picks a free one
    std::string version = "unknown";       // the tconv_build_info label
  };
  // Starts the HTTP exposer; UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<PrometheusMetrics>> Create(const Options& options);
  ~PrometheusMetrics() override;

  // The port the exposer listens on (useful with port 0).
  int port() const;
  // The exposition text a scrape would return; for tests and debugging.
  std::string Scrape() const;

  void OnRequest(std::string_view layer, absl::StatusCode code, absl::Duration duration) override;
  void OnBatch(std::string_view layer, int64_t batch_size, absl::Duration compute,
               const absl::Duration* queue_durations, int64_t num_requests) override;
  void OnQueueDepth(std::string_view layer, int64_t depth) override;
  void OnLayerAdded(std::string_view layer) override;
  void OnLayerRemoved(std::string_view layer) override;

 private:
  struct State;
  explicit PrometheusMetrics(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_METRICS_PROMETHEUS_METRICS_H_
