#include "server/core/inference_statistics.h"

#include <utility>

#include "absl/time/clock.h"

namespace tconv::server {

namespace {

// Guarded by the statistics' mutex.
void RecordRequest(VersionStatistics& stats, absl::StatusCode code, absl::Duration duration) {
  StatisticDuration& outcome = code == absl::StatusCode::kOk ? stats.success : stats.fail;
  outcome.count += 1;
  outcome.total += duration;
  stats.last_inference = absl::Now();
}

}  // namespace

InferenceStatistics::Version::Version(InferenceStatistics* parent, const std::string& layer,
                                      int64_t version)
    : parent_(parent) {
  stats_.layer = layer;
  stats_.version = version;
}

// A batcher's events: counted here, then forwarded like every other event.
void InferenceStatistics::Version::OnBatch(std::string_view layer, int64_t batch_size,
                                           absl::Duration compute,
                                           const absl::Duration* queue_durations,
                                           int64_t num_requests) {
  {
    std::lock_guard lock(parent_->mu_);
    stats_.inference_count += batch_size;
    stats_.execution_count += 1;
    StatisticDuration& runs = stats_.batches[batch_size];
    runs.count += 1;
    runs.total += compute;
    for (int64_t i = 0; i < num_requests; ++i) {
      stats_.queue.count += 1;
      stats_.queue.total += queue_durations[i];
      stats_.compute.count += 1;
      stats_.compute.total += compute;
    }
  }
  if (parent_->downstream_ != nullptr) {
    parent_->downstream_->OnBatch(layer, batch_size, compute, queue_durations, num_requests);
  }
}

void InferenceStatistics::Version::OnQueueDepth(std::string_view layer, int64_t depth) {
  if (parent_->downstream_ != nullptr) parent_->downstream_->OnQueueDepth(layer, depth);
}

// A batcher reports none of these; they go to the layer as a whole.
void InferenceStatistics::Version::OnRequest(std::string_view layer, absl::StatusCode code,
                                             absl::Duration duration) {
  parent_->OnRequest(layer, code, duration);
}
void InferenceStatistics::Version::OnLayerAdded(std::string_view layer) {
  parent_->OnLayerAdded(layer);
}
void InferenceStatistics::Version::OnLayerRemoved(std::string_view layer) {
  parent_->OnLayerRemoved(layer);
}

InferenceStatistics::~InferenceStatistics() = default;

std::shared_ptr<InferenceStatistics::Version> InferenceStatistics::ForVersion(
    const std::string& layer, int64_t version) {
  std::lock_guard lock(mu_);
  const auto it = layers_.find(layer);
  if (it != layers_.end()) {
    const auto kept = it->second.versions.find(version);
    if (kept != it->second.versions.end()) return kept->second;
  }
  return std::make_shared<Version>(this, layer, version);
}

void InferenceStatistics::Serve(const std::shared_ptr<Version>& version) {
  std::lock_guard lock(mu_);
  const VersionStatistics& stats = version->stats_;
  Layer& layer = layers_[stats.layer];
  layer.versions[stats.version] = version;
  layer.served = version;
}

std::vector<VersionStatistics> InferenceStatistics::Get(std::string_view layer) const {
  std::lock_guard lock(mu_);
  std::vector<VersionStatistics> result;
  for (const auto& [name, entry] : layers_) {
    if (!layer.empty() && name != layer) continue;
    for (const auto& [number, version] : entry.versions) result.push_back(version->stats_);
  }
  return result;
}

void InferenceStatistics::OnRequest(std::string_view layer, absl::StatusCode code,
                                    absl::Duration duration) {
  {
    std::lock_guard lock(mu_);
    const auto it = layers_.find(layer);
    if (it != layers_.end() && it->second.served != nullptr) {
      RecordRequest(it->second.served->stats_, code, duration);
    }
  }
  if (downstream_ != nullptr) downstream_->OnRequest(layer, code, duration);
}

void InferenceStatistics::OnBatch(std::string_view layer, int64_t batch_size,
                                  absl::Duration compute, const absl::Duration* queue_durations,
                                  int64_t num_requests) {
  // Batchers report to their Version; a batch reported here has no version to count into.
  if (downstream_ != nullptr) {
    downstream_->OnBatch(layer, batch_size, compute, queue_durations, num_requests);
  }
}

void InferenceStatistics::OnQueueDepth(std::string_view layer, int64_t depth) {
  if (downstream_ != nullptr) downstream_->OnQueueDepth(layer, depth);
}

void InferenceStatistics::OnLayerAdded(std::string_view layer) {
  if (downstream_ != nullptr) downstream_->OnLayerAdded(layer);
}

void InferenceStatistics::OnLayerRemoved(std::string_view layer) {
  {
    std::lock_guard lock(mu_);
    const auto it = layers_.find(layer);
    if (it != layers_.end()) layers_.erase(it);
  }
  if (downstream_ != nullptr) downstream_->OnLayerRemoved(layer);
}

}  // namespace tconv::server
