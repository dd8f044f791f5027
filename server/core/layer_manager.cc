#include "server/core/layer_manager.h"

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
      auto entry = LoadEntry(name);
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
    // Validation, weight packing and the batcher happen before the lock: they may be slow
    // and nothing is changed until Save() succeeds.
    StoredLayer stored{*std::move(config), spec.in_channels, std::move(weights), spec.batching,
                       absl::Now()};
    ASSIGN_OR_RETURN(auto entry, Build(spec.name, std::move(stored)));
    std::shared_ptr<const ServedLayer> replaced;
    {
      std::lock_guard lock(write_mu_);
      if (!spec.replace) RETURN_IF_ERROR(CheckNameFreeLocked(spec.name));
      const Conv2DTranspose& layer = *entry->layer;
      RETURN_IF_ERROR(
          repository_->Save(spec.name, {layer.config(), layer.in_channels(), layer.weights(),
                                        spec.batching, entry->info.created}));
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
      entries[name] = {name, RepositoryEntry::State::kUnavailable,
                       UnavailableReason(name).value_or("not loaded")};
    }
    for (const auto& entry : registry_.List()) {
      entries[entry->info.name] = {entry->info.name, RepositoryEntry::State::kReady, ""};
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
      auto entry = LoadEntry(name);
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
    entry->batcher->Submit(std::move(request), std::move(done));
  }

  absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> FindLayer(
      const std::string& name) const override {
    RETURN_IF_ERROR(ValidateLayerName(name));
    const auto entry = registry_.Find(name);
    if (entry == nullptr) return NotServedWithReason(name);
    return entry->layer;
  }

  void StartDraining() override { draining_.store(true, std::memory_order_release); }

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

  // Creates the kernel layer (validating config and weights) and its batcher.
  absl::StatusOr<std::shared_ptr<const ServedLayer>> Build(const std::string& name,
                                                           StoredLayer stored) const {
    const int64_t in_channels = stored.in_channels;
    ASSIGN_OR_RETURN(auto layer, Conv2DTranspose::Create(std::move(stored.config), in_channels,
                                                         std::move(stored.weights)));
    const BatchingOptions batching = stored.batching.value_or(options_.default_batching);
    ASSIGN_OR_RETURN(auto batcher,
                     Batcher::Create(batching, name, layer, options_.executor, options_.observer));
    auto entry = std::make_shared<ServedLayer>();
    const LayerConfig& config = layer->config();
    entry->info = {name,
                   config,
                   in_channels,
                   {config.kernel_size[0], config.kernel_size[1], config.filters, in_channels},
                   WeightChecksum(layer->weights()),
                   stored.created.value_or(absl::Now()),
                   batching};
    entry->layer = std::move(layer);
    entry->batcher = std::move(batcher);
    return std::shared_ptr<const ServedLayer>(std::move(entry));
  }

  absl::StatusOr<std::shared_ptr<const ServedLayer>> LoadEntry(const std::string& name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    ASSIGN_OR_RETURN(StoredLayer stored, repository_->Load(name));
    return Build(name, std::move(stored));
  }

  // Serves `entry`; returns the entry it replaced, for the caller to retire after unlocking.
  std::shared_ptr<const ServedLayer> Publish(std::shared_ptr<const ServedLayer> entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    const std::string name = entry->info.name;
    auto replaced = registry_.Put(std::move(entry));
    if (replaced == nullptr && options_.observer != nullptr) options_.observer->OnLayerAdded(name);
    return replaced;
  }

  // Stops serving `name` and waits for its in-flight requests; true if it was served. The
  // removal is reported only then, so a finishing request cannot bring back the layer's
  // metrics, and under the lock, so a new layer of that name cannot be reported first.
  bool Unpublish(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    auto removed = registry_.Remove(name);
    if (removed == nullptr) return false;
    RetireWhenUnused(std::move(removed));
    if (options_.observer != nullptr) options_.observer->OnLayerRemoved(name);
    return true;
  }

  const Options options_;
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
