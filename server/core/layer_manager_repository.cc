// LayerManager and the model repository: loading folders (at start-up and on request),
// unloading, and the repository index with the reasons of the folders not served.
#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "layer_entry.h"
#include "layer_manager_impl.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/repository/layer_name.h"

namespace tconv::server {

void LayerManagerImpl::LoadAll() {
  for (const std::string& name : repository_->List()) {
    const absl::Status loaded = Load(name);
    if (loaded.ok()) continue;
    std::fprintf(stderr, "tconv: model repository %s: skipping layer '%s': %s\n",
                 repository_->dir().c_str(), name.c_str(), std::string(loaded.message()).c_str());
  }
}

namespace {
absl::Status NoFolder(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("no folder '", name, "' in the model repository"));
}
}  // namespace

absl::Status LayerManagerImpl::LoadFromRepository(const std::string& name) {
  RETURN_IF_ERROR(ValidateLayerName(name));
  if (!repository_->Contains(name)) return NoFolder(name);
  return Load(name);
}

absl::Status LayerManagerImpl::Load(const std::string& name) {
  // The slow part (reading, checking and packing the weights) before the lock.
  const int64_t writes = RepositoryWrites();
  absl::StatusOr<Loaded> loaded = ReadFolder(name);
  absl::StatusOr<std::shared_ptr<const ServedLayer>> replaced;
  {
    WriteLock lock = LockForWrite(name);
    // Written since it was read (a create, delete or load meanwhile): read it again, now
    // under the lock, so that what is served is what is on disk.
    if (repository_writes_ != writes) {
      if (!repository_->Contains(name)) return NoFolder(name);
      loaded = ReadFolder(name);
    }
    replaced = ServeLoadedLocked(name, std::move(loaded));
  }
  if (!replaced.ok()) return replaced.status();
  RetireWhenUnused(*std::move(replaced));
  return absl::OkStatus();
}

absl::StatusOr<LayerManagerImpl::Loaded> LayerManagerImpl::ReadFolder(
    const std::string& name) const {
  ASSIGN_OR_RETURN(StoredLayer stored, repository_->Load(name));
  // The config and weights move into the layer; what is saved again comes from it.
  auto layer = Conv2DTranspose::Create(std::move(stored.config), stored.in_channels,
                                       std::move(stored.weights));
  if (!layer.ok()) return layer.status();
  return Loaded{std::move(stored), *std::move(layer)};
}

absl::StatusOr<std::shared_ptr<const ServedLayer>> LayerManagerImpl::ServeLoadedLocked(
    const std::string& name, absl::StatusOr<Loaded> loaded) {
  const std::shared_ptr<const ServedLayer> served = registry_.Find(name);
  if (!loaded.ok()) {
    // A layer being served keeps being served: a failed reload changes nothing.
    if (served == nullptr) SetUnavailable(name, std::string(loaded.status().message()));
    return loaded.status();
  }
  const StoredLayer& stored = loaded->stored;
  const BatchingOptions batching = stored.batching.value_or(options_.default_batching);
  int64_t version = stored.version;
  if (served != nullptr) {
    version = std::max(version, served->info.version);
    if (!SameContent(*served, *loaded->layer, batching)) ++version;
  }
  const std::shared_ptr<const Conv2DTranspose>& layer = loaded->layer;
  if (version != stored.version) {
    RETURN_IF_ERROR(SaveLocked(name, {layer->config(), layer->in_channels(), layer->weights(),
                                      stored.batching, stored.created, version}));
  }
  ASSIGN_OR_RETURN(auto entry,
                   BuildEntry(name, layer, batching, stored.created.value_or(absl::Now()), version,
                              options_.executor, statistics_.ForVersion(name, version)));
  ClearUnavailable(name);
  return Publish(std::move(entry));
}

absl::Status LayerManagerImpl::Unload(const std::string& name) {
  RETURN_IF_ERROR(ValidateLayerName(name));
  std::shared_ptr<const ServedLayer> removed;
  {
    std::lock_guard lock(write_mu_);
    removed = Unpublish(name);
    const bool on_disk = repository_->Contains(name);
    if (removed == nullptr && !on_disk) return NotServed(name);
    if (on_disk) SetUnavailable(name, "unloaded");
  }
  Retire(std::move(removed));
  return absl::OkStatus();
}

std::vector<RepositoryEntry> LayerManagerImpl::Repository() const {
  // No write_mu_: the folders, the served entries and the reasons are each read as they are
  // (a snapshot of each), so the index never waits for a create, a load or a delete.
  std::map<std::string, RepositoryEntry> entries;
  for (const std::string& name : repository_->List()) {
    const auto version = repository_->StoredVersion(name);
    entries[name] = {name, RepositoryEntry::State::kUnavailable,
                     UnavailableReason(name).value_or("not loaded"), version.ok() ? *version : 0};
  }
  for (const auto& entry : registry_.List()) {
    entries[entry->info.name] = {entry->info.name, RepositoryEntry::State::kReady, "",
                                 entry->info.version};
  }
  std::vector<RepositoryEntry> result;
  for (auto& [name, entry] : entries) result.push_back(std::move(entry));
  return result;
}

std::vector<RepositoryEntry> LayerManagerImpl::Unserved() const {
  std::vector<RepositoryEntry> result;
  std::lock_guard lock(unavailable_mu_);
  for (const auto& [name, reason] : unavailable_) {  // a std::map: sorted
    result.push_back({name, RepositoryEntry::State::kUnavailable, reason});
  }
  return result;
}

absl::Status LayerManagerImpl::NotServedWithReason(const std::string& name) const {
  const std::optional<std::string> reason = UnavailableReason(name);
  if (!reason) return NotServed(name);
  return absl::NotFoundError(absl::StrCat(
      "layer ", QuoteName(name), " is in the model repository but not served: ", *reason,
      "; fix its folder and load it again (RepositoryModelLoad, `tconv load`)"));
}

void LayerManagerImpl::SetUnavailable(const std::string& name, std::string reason) {
  std::lock_guard lock(unavailable_mu_);
  unavailable_[name] = std::move(reason);
}

void LayerManagerImpl::ClearUnavailable(const std::string& name) {
  std::lock_guard lock(unavailable_mu_);
  unavailable_.erase(name);
}

std::optional<std::string> LayerManagerImpl::UnavailableReason(const std::string& name) const {
  std::lock_guard lock(unavailable_mu_);
  const auto it = unavailable_.find(name);
  if (it == unavailable_.end()) return std::nullopt;
  return it->second;
}

absl::Status LayerManagerImpl::SaveLocked(const std::string& name, const StoredLayer& stored) {
  ++repository_writes_;  // counted even when it fails: it may have changed the folder
  return repository_->Save(name, stored);
}

absl::Status LayerManagerImpl::RemoveLocked(const std::string& name) {
  ++repository_writes_;
  return repository_->Remove(name);
}

int64_t LayerManagerImpl::RepositoryWrites() const {
  std::lock_guard lock(write_mu_);
  return repository_writes_;
}

}  // namespace tconv::server
