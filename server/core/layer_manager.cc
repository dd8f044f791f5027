#include "server/core/layer_manager.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/layer_name.h"
#include "server/core/layer_registry.h"
#include "server/core/model_repository.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server {
namespace {

absl::Status Prefixed(const absl::Status& status, const std::string& prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// FNV-1a 64 over the kernel's then the bias' float32 bytes (little-endian, as stored).
uint64_t WeightChecksum(const LayerWeights& weights) {
  uint64_t hash = 14695981039346656037ull;
  for (const std::vector<float>* values : {&weights.kernel, &weights.bias}) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(values->data());
    for (size_t i = 0; i < values->size() * sizeof(float); ++i) {
      hash = (hash ^ bytes[i]) * 1099511628211ull;
    }
  }
  return hash;
}

// Whether a folder read again holds what `served` serves: then a reload keeps the version.
bool SameContent(const ServedLayer& served, const Conv2DTranspose& loaded,
                 const BatchingOptions& batching) {
  const BatchingOptions& was = served.info.batching;
  return served.layer->config().ToJson() == loaded.config().ToJson() &&
         served.layer->in_channels() == loaded.in_channels() &&
         served.info.weight_checksum == WeightChecksum(loaded.weights()) &&
         was.max_batch_size == batching.max_batch_size &&
         was.batch_timeout == batching.batch_timeout &&
         was.max_queue_size == batching.max_queue_size;
}

absl::Status NotServed(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("layer ", QuoteName(name), " not found"));
}

// Checks the spec's weights against the config and takes them, or draws them from the
// initializers. Messages name the LayerSpec field.
absl::StatusOr<LayerWeights> WeightsFromSpec(const LayerConfig& config, LayerSpec& spec) {
  if (spec.kernel.empty()) {
    if (!spec.kernel_shape.empty() || !spec.bias.empty()) {
      return absl::InvalidArgumentError(
          "kernel is empty but kernel_shape or bias is given: send the kernel too, or neither "
          "(to draw weights from the initializers)");
    }
    if (spec.in_channels < 1 || spec.in_channels > LayerLimits::kMaxInChannels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "in_channels must be in [1, ", LayerLimits::kMaxInChannels,
          "] when no kernel is given (weights are drawn for it), got ", spec.in_channels));
    }
    return InitializeWeights(config, spec.in_channels, spec.seed);
  }
  const std::vector<int64_t>& shape = spec.kernel_shape;
  const std::string shape_text = absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
  if (shape.size() != 4 || shape[0] != config.kernel_size[0] || shape[1] != config.kernel_size[1] ||
      shape[2] != config.filters || shape[3] < 1 || shape[3] > LayerLimits::kMaxInChannels) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel_shape ", shape_text,
                     " does not fit the config: expected (kh, kw, filters, "
                     "in_channels) = (",
                     config.kernel_size[0], ", ", config.kernel_size[1], ", ", config.filters,
                     ", C) with 1 <= C <= ", LayerLimits::kMaxInChannels));
  }
  if (static_cast<int64_t>(spec.kernel.size()) != shape[0] * shape[1] * shape[2] * shape[3]) {
    return absl::InvalidArgumentError(absl::StrCat("kernel has ", spec.kernel.size(),
                                                   " values, kernel_shape ", shape_text, " needs ",
                                                   shape[0] * shape[1] * shape[2] * shape[3]));
  }
  if (spec.in_channels != 0 && spec.in_channels != shape[3]) {
    return absl::InvalidArgumentError(absl::StrCat("in_channels ", spec.in_channels,
                                                   " does not match kernel_shape ", shape_text));
  }
  spec.in_channels = shape[3];
  return LayerWeights{std::move(spec.kernel), std::move(spec.bias)};
}

class LayerManagerImpl final : public LayerManager {
 public:
  LayerManagerImpl(Options options, std::unique_ptr<ModelRepository> repository)
      : options_(std::move(options)), repository_(std::move(repository)) {}

  // Serves every folder of the repository; broken ones are logged and recorded.
  void LoadAll() ABSL_LOCKS_EXCLUDED(write_mu_) {
    std::lock_guard lock(write_mu_);
    for (const std::string& name : repository_->List()) {
      auto entry = LoadEntry(name, /*served=*/nullptr);
      if (entry.ok()) {
        Publish(*std::move(entry)).reset();  // nothing to retire at start-up
        continue;
      }
      const std::string reason(entry.status().message());
      SetUnavailable(name, reason);
      std::fprintf(stderr, "tconv: model repository %s: skipping layer '%s': %s\n",
                   repository_->dir().c_str(), name.c_str(), reason.c_str());
    }
  }

  absl::StatusOr<LayerInfo> CreateLayer(LayerSpec spec) override {
    RETURN_IF_ERROR(ValidateLayerName(spec.name));
    auto config = LayerConfig::FromJson(spec.config_json);
    RETURN_IF_ERROR(Prefixed(config.status(), "config_json: "));
    if (spec.batching) RETURN_IF_ERROR(Prefixed(spec.batching->Validate(), "batching: "));
    if (!spec.replace) RETURN_IF_ERROR(CheckNameFree(spec.name));  // early; checked again below
    ASSIGN_OR_RETURN(LayerWeights weights, WeightsFromSpec(*config, spec));
    // Validation and weight packing happen before the lock: they may be slow and nothing is
    // changed until Save() succeeds. The batcher (cheap) is made under it, with the version.
    ASSIGN_OR_RETURN(
        std::shared_ptr<const Conv2DTranspose> layer,
        Conv2DTranspose::Create(*std::move(config), spec.in_channels, std::move(weights)));
    std::shared_ptr<const ServedLayer> replaced;
    std::shared_ptr<const ServedLayer> entry;
    {
      std::lock_guard lock(write_mu_);
      if (!spec.replace) RETURN_IF_ERROR(CheckNameFreeLocked(spec.name));
      // Under the lock, so two replaces of one layer cannot take the same number.
      const int64_t version = NextVersionLocked(spec.name);
      ASSIGN_OR_RETURN(entry, Build(spec.name, layer, spec.batching, absl::Now(), version));
      RETURN_IF_ERROR(
          repository_->Save(spec.name, {layer->config(), layer->in_channels(), layer->weights(),
                                        spec.batching, entry->info.created, version}));
      ClearUnavailable(spec.name);
      replaced = Publish(entry);
    }
    RetireWhenUnused(std::move(replaced));
    return entry->info;
  }

  absl::StatusOr<LayerInfo> GetLayer(const std::string& name) const override {
    RETURN_IF_ERROR(ValidateLayerName(name));
    const auto entry = registry_.Find(name);
    if (entry == nullptr) return NotServedWithReason(name);
    return entry->info;
  }

  std::vector<LayerInfo> ListLayers() const override {
    std::vector<LayerInfo> infos;
    for (const auto& entry : registry_.List()) infos.push_back(entry->info);
    return infos;
  }

  absl::Status DeleteLayer(const std::string& name) override {
    RETURN_IF_ERROR(ValidateLayerName(name));
    std::lock_guard lock(write_mu_);
    const bool on_disk = repository_->Contains(name);
    if (!on_disk && registry_.Find(name) == nullptr) return NotServed(name);
    if (on_disk) RETURN_IF_ERROR(repository_->Remove(name));
    ClearUnavailable(name);
    Unpublish(name);
    return absl::OkStatus();
  }

  std::vector<RepositoryEntry> Repository() const override {
    std::lock_guard lock(write_mu_);
    std::map<std::string, RepositoryEntry> entries;
    for (const std::string& name : repository_->List()) {
      const auto version = repository_->StoredVersion(name);
      entries[name] = {name, RepositoryEntry::State::kUnavailable,
                       UnavailableReason(name).value_or("not loaded"),
                       version.ok() ? *version : 0};
    }
    for (const auto& entry : registry_.List()) {
      entries[entry->info.name] = {entry->info.name, RepositoryEntry::State::kReady, "",
                                   entry->info.version};
    }
    std::vector<RepositoryEntry> result;
    for (auto& [name, entry] : entries) result.push_back(std::move(entry));
    return result;
  }

  std::vector<RepositoryEntry> Unserved() const override {
    std::vector<RepositoryEntry> result;
    std::lock_guard lock(unavailable_mu_);
    for (const auto& [name, reason] : unavailable_) {  // a std::map: sorted
      result.push_back({name, RepositoryEntry::State::kUnavailable, reason});
    }
    return result;
  }

  absl::Status LoadFromRepository(const std::string& name) override {
    RETURN_IF_ERROR(ValidateLayerName(name));
    std::shared_ptr<const ServedLayer> replaced;
    {
      std::lock_guard lock(write_mu_);
      if (!repository_->Contains(name)) {
        return absl::NotFoundError(absl::StrCat("no folder '", name, "' in the model repository"));
      }
      auto entry = LoadEntry(name, registry_.Find(name));
      if (!entry.ok()) {
        // A layer being served keeps being served: a failed reload changes nothing.
        if (registry_.Find(name) == nullptr) {
          SetUnavailable(name, std::string(entry.status().message()));
        }
        return entry.status();
      }
      ClearUnavailable(name);
      replaced = Publish(*std::move(entry));
    }
    RetireWhenUnused(std::move(replaced));
    return absl::OkStatus();
  }

  absl::Status Unload(const std::string& name) override {
    RETURN_IF_ERROR(ValidateLayerName(name));
    std::lock_guard lock(write_mu_);
    const bool served = Unpublish(name);
    if (!served && !repository_->Contains(name)) return NotServed(name);
    if (repository_->Contains(name)) SetUnavailable(name, "unloaded");
    return absl::OkStatus();
  }

  void Infer(const std::string& name, InferenceRequest request, InferenceCallback done) override {
    if (draining_.load(std::memory_order_acquire)) {
      std::move(done)(absl::UnavailableError("the server is shutting down"));
      return;
    }
    if (absl::Status invalid = ValidateLayerName(name); !invalid.ok()) {
      std::move(done)(std::move(invalid));
      return;
    }
    // Held only across Submit (see layer_registry.h), never in `done`.
    const std::shared_ptr<const ServedLayer> entry = registry_.Find(name);
    if (entry == nullptr) {
      std::move(done)(NotServedWithReason(name));
      return;
    }
    if (absl::Status other = CheckLayerVersion(entry->info, request.version); !other.ok()) {
      std::move(done)(std::move(other));
      return;
    }
    entry->batcher->Submit(std::move(request),
                           [version = entry->info.version, done = std::move(done)](
                               absl::StatusOr<InferenceResult> result) mutable {
                             if (result.ok()) result->version = version;
                             std::move(done)(std::move(result));
                           });
  }

  absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> FindLayer(
      const std::string& name) const override {
    RETURN_IF_ERROR(ValidateLayerName(name));
    const auto entry = registry_.Find(name);
    if (entry == nullptr) return NotServedWithReason(name);
    return entry->layer;
  }

  void StartDraining() override { draining_.store(true, std::memory_order_release); }

  InferenceStatistics& statistics() override { return statistics_; }
  const BatchingOptions& default_batching() const override { return options_.default_batching; }

 private:
  // NOT_FOUND for a layer not served; for a repository folder that is not served, the message
  // says why (its load error, or "unloaded") and how to serve it again.
  absl::Status NotServedWithReason(const std::string& name) const {
    const std::optional<std::string> reason = UnavailableReason(name);
    if (!reason) return NotServed(name);
    return absl::NotFoundError(absl::StrCat(
        "layer ", QuoteName(name), " is in the model repository but not served: ", *reason,
        "; fix its folder and load it again (RepositoryModelLoad, `tconv load`)"));
  }

  void SetUnavailable(const std::string& name, std::string reason) {
    std::lock_guard lock(unavailable_mu_);
    unavailable_[name] = std::move(reason);
  }
  void ClearUnavailable(const std::string& name) {
    std::lock_guard lock(unavailable_mu_);
    unavailable_.erase(name);
  }
  std::optional<std::string> UnavailableReason(const std::string& name) const {
    std::lock_guard lock(unavailable_mu_);
    const auto it = unavailable_.find(name);
    if (it == unavailable_.end()) return std::nullopt;
    return it->second;
  }

  absl::Status CheckNameFree(const std::string& name) ABSL_LOCKS_EXCLUDED(write_mu_) {
    std::lock_guard lock(write_mu_);
    return CheckNameFreeLocked(name);
  }
  absl::Status CheckNameFreeLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    if (registry_.Find(name) == nullptr && !repository_->Contains(name)) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat("layer '", name, "' already exists; set replace to replace it"));
  }

  // The number a replace of `name` serves: one above both the served version and the one on
  // disk (a folder that cannot be loaded still records its number), 1 for a new layer.
  int64_t NextVersionLocked(const std::string& name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    int64_t last = 0;
    if (const auto served = registry_.Find(name); served != nullptr) last = served->info.version;
    if (repository_->Contains(name)) {
      if (auto stored = repository_->StoredVersion(name); stored.ok()) {
        last = std::max(last, *stored);
      }
    }
    return last + 1;
  }

  // The served entry of a kernel layer: its batcher, reporting to the version's counters.
  absl::StatusOr<std::shared_ptr<const ServedLayer>> Build(
      const std::string& name, std::shared_ptr<const Conv2DTranspose> layer,
      const std::optional<BatchingOptions>& stored_batching, std::optional<absl::Time> created,
      int64_t version) {
    const BatchingOptions batching = stored_batching.value_or(options_.default_batching);
    auto entry = std::make_shared<ServedLayer>();
    entry->statistics = statistics_.ForVersion(name, version);
    ASSIGN_OR_RETURN(entry->batcher, Batcher::Create(batching, name, layer, options_.executor,
                                                     entry->statistics.get()));
    const LayerConfig& config = layer->config();
    const int64_t in_channels = layer->in_channels();
    entry->info = {name,
                   config,
                   in_channels,
                   {config.kernel_size[0], config.kernel_size[1], config.filters, in_channels},
                   WeightChecksum(layer->weights()),
                   created.value_or(absl::Now()),
                   batching,
                   version};
    entry->layer = std::move(layer);
    return std::shared_ptr<const ServedLayer>(std::move(entry));
  }

  // Reads a folder and builds its entry. Against `served` (the entry now served under that
  // name, or null): a folder whose content changed is a replace, version + 1, and the new
  // number is written back to the folder so that a restart serves it too; an unchanged one
  // keeps the served version and its statistics.
  absl::StatusOr<std::shared_ptr<const ServedLayer>> LoadEntry(
      const std::string& name, const std::shared_ptr<const ServedLayer>& served)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    ASSIGN_OR_RETURN(StoredLayer stored, repository_->Load(name));
    ASSIGN_OR_RETURN(std::shared_ptr<const Conv2DTranspose> layer,
                     Conv2DTranspose::Create(std::move(stored.config), stored.in_channels,
                                             std::move(stored.weights)));
    int64_t version = stored.version;
    if (served != nullptr) {
      version = std::max(version, served->info.version);
      const BatchingOptions batching = stored.batching.value_or(options_.default_batching);
      if (!SameContent(*served, *layer, batching)) ++version;
    }
    if (version != stored.version) {
      RETURN_IF_ERROR(
          repository_->Save(name, {layer->config(), layer->in_channels(), layer->weights(),
                                   stored.batching, stored.created, version}));
    }
    return Build(name, std::move(layer), stored.batching, stored.created, version);
  }

  // Serves `entry`; returns the entry it replaced, for the caller to retire after unlocking.
  std::shared_ptr<const ServedLayer> Publish(std::shared_ptr<const ServedLayer> entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    const std::string name = entry->info.name;
    const auto statistics = entry->statistics;
    auto replaced = registry_.Put(std::move(entry));
    if (replaced == nullptr) statistics_.OnLayerAdded(name);
    statistics_.Serve(statistics);
    return replaced;
  }

  // Stops serving `name` and waits for its in-flight requests; true if it was served. The
  // removal is reported only then, so a finishing request cannot bring back the layer's
  // metrics, and under the lock, so a new layer of that name cannot be reported first.
  bool Unpublish(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    auto removed = registry_.Remove(name);
    if (removed == nullptr) return false;
    RetireWhenUnused(std::move(removed));
    statistics_.OnLayerRemoved(name);
    return true;
  }

  const Options options_;
  // Counts every event on its way to options_.observer; outlives the registry's batchers.
  InferenceStatistics statistics_{options_.observer};
  // Serializes every change (registry membership, repository, unavailable_); lookups for
  // inference never take it.
  // A std::mutex for ThreadSanitizer's sake (see layer_registry.h); the ABSL_* annotations
  // document what it guards.
  mutable std::mutex write_mu_;
  const std::unique_ptr<ModelRepository> repository_ ABSL_PT_GUARDED_BY(write_mu_);
  // Changed under write_mu_ too, but read alone: a GetLayer of an unserved layer never waits
  // for a slow create.
  mutable std::mutex unavailable_mu_;
  std::map<std::string, std::string> unavailable_ ABSL_GUARDED_BY(unavailable_mu_);  // -> why
  LayerRegistry registry_;
  std::atomic<bool> draining_{false};
};

}  // namespace

absl::Status CheckLayerVersion(const LayerInfo& info, absl::string_view requested) {
  if (requested.empty() || requested == absl::StrCat(info.version)) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("layer ", QuoteName(info.name), " has no version ",
                                          QuoteName(requested), "; it serves version '",
                                          info.version, "'"));
}

absl::StatusOr<std::unique_ptr<LayerManager>> LayerManager::Create(Options options) {
  if (options.executor == nullptr) {
    return absl::InvalidArgumentError("LayerManager::Options.executor is required");
  }
  RETURN_IF_ERROR(Prefixed(options.default_batching.Validate(), "default batching: "));
  ASSIGN_OR_RETURN(auto repository,
                   ModelRepository::Open({options.repository_dir, options.default_batching}));
  auto manager = std::make_unique<LayerManagerImpl>(std::move(options), std::move(repository));
  manager->LoadAll();
  return std::unique_ptr<LayerManager>(std::move(manager));
}

}  // namespace tconv::server
