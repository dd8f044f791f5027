// LayerManager: Create, the layers' create/get/list/delete and inference. Loading folders,
// unloading and the repository index are in layer_manager_repository.cc.
#include "server/core/layer_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "layer_entry.h"
#include "layer_manager_impl.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/repository/layer_name.h"

namespace tconv::server {

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

absl::StatusOr<LayerInfo> LayerManagerImpl::CreateLayer(LayerSpec spec) {
  RETURN_IF_ERROR(ValidateLayerName(spec.name));
  auto config = LayerConfig::FromJson(spec.config_json);
  RETURN_IF_ERROR(Prefixed(config.status(), "config_json: "));
  if (spec.batching) RETURN_IF_ERROR(Prefixed(spec.batching->Validate(), "batching: "));
  if (!spec.replace) {  // early, before the slow part; checked again below
    std::lock_guard lock(write_mu_);
    RETURN_IF_ERROR(CheckNameFreeLocked(spec.name));
  }
  ASSIGN_OR_RETURN(LayerWeights weights, WeightsFromSpec(*config, spec));
  // Validation and weight packing happen before the lock: they may be slow and nothing is
  // changed until Save() succeeds. The batcher (cheap) is made under it, with the version.
  ASSIGN_OR_RETURN(
      std::shared_ptr<const Conv2DTranspose> layer,
      Conv2DTranspose::Create(*std::move(config), spec.in_channels, std::move(weights)));
  const BatchingOptions batching = spec.batching.value_or(options_.default_batching);
  std::shared_ptr<const ServedLayer> replaced;
  std::shared_ptr<const ServedLayer> entry;
  {
    WriteLock lock = LockForWrite(spec.name);
    if (!spec.replace) RETURN_IF_ERROR(CheckNameFreeLocked(spec.name));
    // Under the lock, so two replaces of one layer cannot take the same number.
    const int64_t version = NextVersionLocked(spec.name);
    ASSIGN_OR_RETURN(entry,
                     BuildEntry(spec.name, layer, batching, absl::Now(), version, options_.executor,
                                statistics_.ForVersion(spec.name, version)));
    RETURN_IF_ERROR(SaveLocked(spec.name, {layer->config(), layer->in_channels(), layer->weights(),
                                           spec.batching, entry->info.created, version}));
    ClearUnavailable(spec.name);
    replaced = Publish(entry);
  }
  RetireWhenUnused(std::move(replaced));
  return entry->info;
}

absl::StatusOr<LayerInfo> LayerManagerImpl::GetLayer(const std::string& name) const {
  RETURN_IF_ERROR(ValidateLayerName(name));
  const auto entry = registry_.Find(name);
  if (entry == nullptr) return NotServedWithReason(name);
  return entry->info;
}

std::vector<LayerInfo> LayerManagerImpl::ListLayers() const {
  std::vector<LayerInfo> infos;
  for (const auto& entry : registry_.List()) infos.push_back(entry->info);
  return infos;
}

absl::Status LayerManagerImpl::DeleteLayer(const std::string& name) {
  RETURN_IF_ERROR(ValidateLayerName(name));
  std::shared_ptr<const ServedLayer> removed;
  {
    std::lock_guard lock(write_mu_);
    const bool on_disk = repository_->Contains(name);
    if (!on_disk && registry_.Find(name) == nullptr) return NotServed(name);
    if (on_disk) RETURN_IF_ERROR(RemoveLocked(name));
    ClearUnavailable(name);
    removed = Unpublish(name);
  }
  Retire(std::move(removed));
  return absl::OkStatus();
}

void LayerManagerImpl::Infer(const std::string& name, InferenceRequest request,
                             InferenceCallback done) {
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
                         [version = entry->info.version,
                          done = std::move(done)](absl::StatusOr<InferenceResult> result) mutable {
                           if (result.ok()) result->version = version;
                           std::move(done)(std::move(result));
                         });
}

absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> LayerManagerImpl::FindLayer(
    const std::string& name) const {
  RETURN_IF_ERROR(ValidateLayerName(name));
  const auto entry = registry_.Find(name);
  if (entry == nullptr) return NotServedWithReason(name);
  return entry->layer;
}

LayerManagerImpl::WriteLock LayerManagerImpl::LockForWrite(const std::string& name) {
  WriteLock lock(write_mu_);
  retired_.wait(
      lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) { return retiring_.count(name) == 0; });
  return lock;
}

absl::Status LayerManagerImpl::CheckNameFreeLocked(const std::string& name) const {
  if (registry_.Find(name) == nullptr && !repository_->Contains(name)) return absl::OkStatus();
  return absl::AlreadyExistsError(
      absl::StrCat("layer '", name, "' already exists; set replace to replace it"));
}

int64_t LayerManagerImpl::NextVersionLocked(const std::string& name) const {
  int64_t last = 0;
  if (const auto served = registry_.Find(name); served != nullptr) last = served->info.version;
  if (repository_->Contains(name)) {
    if (auto stored = repository_->StoredVersion(name); stored.ok()) {
      last = std::max(last, *stored);
    }
  }
  return last + 1;
}

std::shared_ptr<const ServedLayer> LayerManagerImpl::Publish(
    std::shared_ptr<const ServedLayer> entry) {
  const std::string name = entry->info.name;
  const auto statistics = entry->statistics;
  auto replaced = registry_.Put(std::move(entry));
  if (replaced == nullptr) statistics_.OnLayerAdded(name);
  statistics_.Serve(statistics);
  return replaced;
}

std::shared_ptr<const ServedLayer> LayerManagerImpl::Unpublish(const std::string& name) {
  auto removed = registry_.Remove(name);
  if (removed != nullptr) retiring_.insert(name);
  return removed;
}

void LayerManagerImpl::Retire(std::shared_ptr<const ServedLayer> removed) {
  if (removed == nullptr) return;
  const std::string name = removed->info.name;
  RetireWhenUnused(std::move(removed));
  {
    std::lock_guard lock(write_mu_);
    statistics_.OnLayerRemoved(name);
    retiring_.erase(retiring_.find(name));
  }
  retired_.notify_all();
}

}  // namespace tconv::server
