#include "server/metrics/prometheus_metrics.h"

#include <exception>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/metrics/process_collector.h"

namespace tconv::server {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// 10 µs .. 10 s in 1-2-5 steps: resolves a cached 7x7 layer as well as a slow 256x256 batch.
Histogram::BucketBoundaries DurationBuckets() {
  Histogram::BucketBoundaries buckets;
  for (double decade = 1e-5; decade < 10.0; decade *= 10) {
    for (double step : {1.0, 2.0, 5.0}) buckets.push_back(decade * step);
  }
  buckets.push_back(10.0);
  return buckets;
}

// Powers of two up to the largest max_batch_size we accept.
Histogram::BucketBoundaries BatchSizeBuckets() {
  Histogram::BucketBoundaries buckets;
  for (double size = 1; size <= 4096; size *= 2) buckets.push_back(size);
  return buckets;
}

}  // namespace

struct PrometheusMetrics::State {
  // The series of one layer; all owned by their families.
  struct LayerSeries {
    std::string layer;  // the label value
    std::map<absl::StatusCode, Counter*> requests;
    Counter* inferences;
    Counter* batches;
    Histogram* request_duration;
    Histogram* queue_duration;
    Histogram* compute_duration;
    Histogram* batch_size;
    Gauge* queue_depth;
  };

  explicit State(const Options& options)
      : registry(std::make_shared<prometheus::Registry>()),
        requests(prometheus::BuildCounter()
                     .Name("tconv_requests_total")
                     .Help("Inference RPCs, by layer and gRPC status code")
                     .Register(*registry)),
        inferences(prometheus::BuildCounter()
                       .Name("tconv_inferences_total")
                       .Help("Examples computed, by layer")
                       .Register(*registry)),
        batches(prometheus::BuildCounter()
                    .Name("tconv_batch_executions_total")
                    .Help("Kernel runs (batches), by layer")
                    .Register(*registry)),
        request_duration(prometheus::BuildHistogram()
                             .Name("tconv_request_duration_seconds")
                             .Help("Inference RPC latency as the server saw it")
                             .Register(*registry)),
        queue_duration(prometheus::BuildHistogram()
                           .Name("tconv_queue_duration_seconds")
                           .Help("Time a request waited before its kernel run started")
                           .Register(*registry)),
        compute_duration(prometheus::BuildHistogram()
                             .Name("tconv_compute_duration_seconds")
                             .Help("Duration of one kernel run")
                             .Register(*registry)),
        batch_size(prometheus::BuildHistogram()
                       .Name("tconv_batch_size")
                       .Help("Examples per kernel run")
                       .Register(*registry)),
        queue_depth(prometheus::BuildGauge()
                        .Name("tconv_queue_depth")
                        .Help("Examples waiting in a layer's queue")
                        .Register(*registry)),
        layers(prometheus::BuildGauge()
                   .Name("tconv_layers")
                   .Help("Layers being served")
                   .Register(*registry)
                   .Add({})) {
    prometheus::BuildGauge()
        .Name("tconv_build_info")
        .Help("Build information; always 1")
        .Register(*registry)
        .Add({{"version", options.version}})
        .Set(1);
    unserved = AddSeries("");
  }

  std::unique_ptr<LayerSeries> AddSeries(const std::string& layer) {
    const prometheus::Labels labels{{"layer", layer}};
    auto series = std::make_unique<LayerSeries>();
    series->layer = layer;
    series->inferences = &inferences.Add(labels);
    series->batches = &batches.Add(labels);
    series->request_duration = &request_duration.Add(labels, DurationBuckets());
    series->queue_duration = &queue_duration.Add(labels, DurationBuckets());
    series->compute_duration = &compute_duration.Add(labels, DurationBuckets());
    series->batch_size = &batch_size.Add(labels, BatchSizeBuckets());
    series->queue_depth = &queue_depth.Add(labels);
    return series;
  }

  void RemoveSeries(LayerSeries& series) {
    for (auto& [code, counter] : series.requests) requests.Remove(counter);
    inferences.Remove(series.inferences);
    batches.Remove(series.batches);
    request_duration.Remove(series.request_duration);
    queue_duration.Remove(series.queue_duration);
    compute_duration.Remove(series.compute_duration);
    batch_size.Remove(series.batch_size);
    queue_depth.Remove(series.queue_depth);
  }

  // The series of a served layer, or the layer="" series. Callers hold `mu`, which keeps the
  // returned series alive while they record into it.
  LayerSeries& Find(std::string_view layer) {
    auto it = by_layer.find(std::string(layer));
    return it == by_layer.end() ? *unserved : *it->second;
  }

  std::shared_ptr<prometheus::Registry> registry;
  Family<Counter>& requests;
  Family<Counter>& inferences;
  Family<Counter>& batches;
  Family<Histogram>& request_duration;
  Family<Histogram>& queue_duration;
  Family<Histogram>& compute_duration;
  Family<Histogram>& batch_size;
  Family<Gauge>& queue_depth;
  Gauge& layers;
  std::shared_ptr<ProcessCollector> process = std::make_shared<ProcessCollector>();
  std::unique_ptr<prometheus::Exposer> exposer;

  std::mutex mu;
  absl::flat_hash_map<std::string, std::unique_ptr<LayerSeries>> by_layer;  // guarded by mu
  std::unique_ptr<LayerSeries> unserved;
};

PrometheusMetrics::PrometheusMetrics(std::unique_ptr<State> state) : state_(std::move(state)) {}
PrometheusMetrics::~PrometheusMetrics() = default;

absl::StatusOr<std::unique_ptr<PrometheusMetrics>> PrometheusMetrics::Create(
    const Options& options) {
  auto state = std::make_unique<State>(options);
  try {
    // civetweb: one listening thread plus two workers is plenty for a scraper or two.
    state->exposer = std::make_unique<prometheus::Exposer>(options.address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError("cannot serve metrics on --metrics_address=" + options.address +
                                  ": " + e.what());
  }
  state->exposer->RegisterCollectable(state->registry);
  state->exposer->RegisterCollectable(state->process);
  return std::unique_ptr<PrometheusMetrics>(new PrometheusMetrics(std::move(state)));
}

int PrometheusMetrics::port() const {
  const std::vector<int> ports = state_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::string PrometheusMetrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = state_->registry->Collect();
  for (auto& family : state_->process->Collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

void PrometheusMetrics::OnRequest(std::string_view layer, absl::StatusCode code,
                                  absl::Duration duration) {
  std::lock_guard<std::mutex> lock(state_->mu);
  State::LayerSeries& series = state_->Find(layer);
  Counter*& counter = series.requests[code];
  if (counter == nullptr) {
    counter =
        &state_->requests.Add({{"layer", series.layer}, {"code", absl::StatusCodeToString(code)}});
  }
  counter->Increment();
  series.request_duration->Observe(absl::ToDoubleSeconds(duration));
}

void PrometheusMetrics::OnBatch(std::string_view layer, int64_t batch_size, absl::Duration compute,
                                const absl::Duration* queue_durations, int64_t num_requests) {
  std::lock_guard<std::mutex> lock(state_->mu);
  State::LayerSeries& series = state_->Find(layer);
  series.inferences->Increment(static_cast<double>(batch_size));
  series.batches->Increment();
  series.batch_size->Observe(static_cast<double>(batch_size));
  series.compute_duration->Observe(absl::ToDoubleSeconds(compute));
  for (int64_t i = 0; i < num_requests; ++i) {
    series.queue_duration->Observe(absl::ToDoubleSeconds(queue_durations[i]));
  }
}

void PrometheusMetrics::OnQueueDepth(std::string_view layer, int64_t depth) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->by_layer.find(std::string(layer));
  if (it != state_->by_layer.end()) it->second->queue_depth->Set(static_cast<double>(depth));
}

void PrometheusMetrics::OnLayerAdded(std::string_view layer) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto& slot = state_->by_layer[std::string(layer)];
  if (slot == nullptr) slot = state_->AddSeries(std::string(layer));
  state_->layers.Set(static_cast<double>(state_->by_layer.size()));
}

void PrometheusMetrics::OnLayerRemoved(std::string_view layer) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->by_layer.find(std::string(layer));
  if (it == state_->by_layer.end()) return;
  state_->RemoveSeries(*it->second);
  state_->by_layer.erase(it);
  state_->layers.Set(static_cast<double>(state_->by_layer.size()));
}

}  // namespace tconv::server
