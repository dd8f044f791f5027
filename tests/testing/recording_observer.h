// The one recording MetricsObserver of the tests: it keeps every event a server, a manager or a
// batcher reports, per layer, and lets a test wait for a queue depth instead of sleeping.
// Thread-safe (std::mutex: see server/core/README.md, "Locks"). Header-only; tests that use it
// link tconv::server_core already.
#ifndef TCONV_TESTS_TESTING_RECORDING_OBSERVER_H_
#define TCONV_TESTS_TESTING_RECORDING_OBSERVER_H_

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/metrics_observer.h"
#include "testing/event.h"

namespace tconv::testing {

// One kernel run as reported: how many examples, from how many requests.
struct BatchRecord {
  int64_t examples = 0;
  int64_t requests = 0;
  friend bool operator==(const BatchRecord& a, const BatchRecord& b) {
    return a.examples == b.examples && a.requests == b.requests;
  }
  friend std::ostream& operator<<(std::ostream& os, const BatchRecord& b) {
    return os << "{examples " << b.examples << ", requests " << b.requests << "}";
  }
};

class RecordingObserver : public server::MetricsObserver {
 public:
  void OnRequest(std::string_view layer, absl::StatusCode code, absl::Duration) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{std::string(layer), code}];
  }
  // Every source reports non-negative durations, one per request of the batch.
  void OnBatch(std::string_view layer, int64_t batch_size, absl::Duration compute,
               const absl::Duration* queue_durations, int64_t num_requests) override {
    EXPECT_GE(compute, absl::ZeroDuration());
    for (int64_t i = 0; i < num_requests; ++i) EXPECT_GE(queue_durations[i], absl::ZeroDuration());
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back({batch_size, num_requests});
    batch_layers_.insert(std::string(layer));
    Layer& of = layers_[std::string(layer)];
    of.computed += batch_size;
    of.largest_batch = std::max(of.largest_batch, batch_size);
    of.compute_total += compute;
  }
  void OnQueueDepth(std::string_view layer, int64_t depth) override {
    std::lock_guard<std::mutex> lock(mu_);
    depths_.push_back(depth);
    layers_[std::string(layer)].queue_depth = depth;
    cv_.notify_all();
  }
  void OnLayerAdded(std::string_view layer) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++layers_[std::string(layer)].added;
  }
  void OnLayerRemoved(std::string_view layer) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++layers_[std::string(layer)].removed;
  }

  // Finished requests of `layer` answered with `code`.
  int64_t Count(const std::string& layer, absl::StatusCode code) const {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = requests_.find({layer, code});
    return it == requests_.end() ? 0 : it->second;
  }
  // Examples the kernel ran for `layer`.
  int64_t Computed(const std::string& layer) const { return Of(layer).computed; }
  // The largest kernel run of `layer`, in examples (0 before any).
  int64_t LargestBatch(const std::string& layer) const { return Of(layer).largest_batch; }
  // The sum of `layer`'s kernel run durations.
  absl::Duration ComputeTotal(const std::string& layer) const { return Of(layer).compute_total; }
  // Examples waiting in `layer`'s queue, as last reported.
  int64_t QueueDepth(const std::string& layer) const { return Of(layer).queue_depth; }
  int added(const std::string& layer) const { return Of(layer).added; }
  int removed(const std::string& layer) const { return Of(layer).removed; }

  // Every kernel run and every queue depth reported, of any layer, in order.
  std::vector<BatchRecord> Batches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  std::set<std::string> BatchLayers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_layers_;
  }
  std::vector<int64_t> Depths() const {
    std::lock_guard<std::mutex> lock(mu_);
    return depths_;
  }
  int64_t LastDepth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return depths_.empty() ? 0 : depths_.back();
  }
  // Waits (at most kWait) until the last depth reported is `depth`.
  bool WaitForDepth(int64_t depth) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return !depths_.empty() && depths_.back() == depth; });
  }

 private:
  struct Layer {
    int64_t computed = 0;
    int64_t largest_batch = 0;
    absl::Duration compute_total = absl::ZeroDuration();
    int64_t queue_depth = 0;
    int added = 0;
    int removed = 0;
  };
  Layer Of(const std::string& layer) const {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = layers_.find(layer);
    return it == layers_.end() ? Layer() : it->second;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::pair<std::string, absl::StatusCode>, int64_t> requests_;  // guarded by mu_
  std::map<std::string, Layer> layers_;                                   // guarded by mu_
  std::vector<BatchRecord> batches_;                                      // guarded by mu_
  std::set<std::string> batch_layers_;                                    // guarded by mu_
  std::vector<int64_t> depths_;                                           // guarded by mu_
};

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_RECORDING_OBSERVER_H_
