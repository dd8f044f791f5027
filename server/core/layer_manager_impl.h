// The LayerManager's implementation, in two files by idea: layer_manager.cc (create, get, list,
// delete, inference) and layer_manager_repository.cc (loading folders, unloading, the
// repository index). Internal to server/core.
//
// Locking. write_mu_ serializes changes (registry membership, repository writes, the unavailable
// reasons) and is held only for the cheap steps of a change: checks against the current state,
// the version number, the disk write, the batcher and the publication. Reading and packing
// weights happen before it; draining a removed layer's batcher after it. Reads never take it:
// lookups and ListLayers go to the registry, Unserved to unavailable_mu_, and Repository() reads
// the disk (writes there are atomic renames, see model_repository.h) beside the two.
#ifndef TCONV_SERVER_CORE_LAYER_MANAGER_IMPL_H_
#define TCONV_SERVER_CORE_LAYER_MANAGER_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "server/core/inference_statistics.h"
#include "server/core/layer_manager.h"
#include "server/core/layer_registry.h"
#include "tconv/repository/model_repository.h"

namespace tconv::server {

class LayerManagerImpl final : public LayerManager {
 public:
  LayerManagerImpl(Options options, std::unique_ptr<ModelRepository> repository)
      : options_(std::move(options)), repository_(std::move(repository)) {}

  // Serves every folder of the repository; broken ones are logged and recorded.
  void LoadAll();

  absl::StatusOr<LayerInfo> CreateLayer(LayerSpec spec) override;
  absl::StatusOr<LayerInfo> GetLayer(const std::string& name) const override;
  std::vector<LayerInfo> ListLayers() const override;
  absl::Status DeleteLayer(const std::string& name) override;
  std::vector<RepositoryEntry> Repository() const override;
  std::vector<RepositoryEntry> Unserved() const override;
  absl::Status LoadFromRepository(const std::string& name) override;
  absl::Status Unload(const std::string& name) override;
  void Infer(const std::string& name, InferenceRequest request, InferenceCallback done) override;
  absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> FindLayer(
      const std::string& name) const override;
  void StartDraining() override { draining_.store(true, std::memory_order_release); }
  InferenceStatistics& statistics() override { return statistics_; }
  const BatchingOptions& default_batching() const override { return options_.default_batching; }

 private:
  using WriteLock = std::unique_lock<std::mutex>;

  // write_mu_, taken once no removal of `name` is still retiring (see Retire), so that the
  // caller's change of `name` is reported after that removal.
  WriteLock LockForWrite(const std::string& name) ABSL_LOCKS_EXCLUDED(write_mu_);

  // NOT_FOUND for a layer not served; for a repository folder that is not served, the message
  // says why (its load error, or "unloaded") and how to serve it again.
  absl::Status NotServedWithReason(const std::string& name) const;
  void SetUnavailable(const std::string& name, std::string reason);
  void ClearUnavailable(const std::string& name);
  std::optional<std::string> UnavailableReason(const std::string& name) const;

  absl::Status CheckNameFreeLocked(const std::string& name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The number a replace of `name` serves: one above both the served version and the one on
  // disk (a folder that cannot be loaded still records its number), 1 for a new layer.
  int64_t NextVersionLocked(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // Repository writes, counted so that a folder read before taking write_mu_ is known to be
  // still what is on disk.
  absl::Status SaveLocked(const std::string& name, const StoredLayer& stored)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status RemoveLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  int64_t RepositoryWrites() const ABSL_LOCKS_EXCLUDED(write_mu_);

  // A folder read and its layer built (the slow part of a load), without any lock.
  struct Loaded {
    StoredLayer stored;
    std::shared_ptr<const Conv2DTranspose> layer;
  };
  absl::StatusOr<Loaded> ReadFolder(const std::string& name) const;
  // Loads `name` (a folder on disk, its name not yet checked) and serves it. A failed load of
  // a layer being served changes nothing; of one not served, records why.
  absl::Status Load(const std::string& name) ABSL_LOCKS_EXCLUDED(write_mu_);
  // Serves what ReadFolder gave: against the entry served under that name, a folder whose
  // content changed is a replace, version + 1, written back to the folder so that a restart
  // serves it too; an unchanged one keeps the served version and its statistics. Returns the
  // entry replaced, for the caller to retire after unlocking.
  absl::StatusOr<std::shared_ptr<const ServedLayer>> ServeLoadedLocked(
      const std::string& name, absl::StatusOr<Loaded> loaded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // Serves `entry`; returns the entry it replaced, for the caller to retire after unlocking.
  std::shared_ptr<const ServedLayer> Publish(std::shared_ptr<const ServedLayer> entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Stops serving `name` and marks it retiring; returns the removed entry (null when it was
  // not served), for the caller to pass to Retire after unlocking.
  std::shared_ptr<const ServedLayer> Unpublish(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Waits for `removed`'s in-flight requests (its batcher drains), then reports the removal.
  // Only then, so a finishing request cannot bring back the layer's metrics; and before any
  // new layer of that name is reported, because LockForWrite waits for it.
  void Retire(std::shared_ptr<const ServedLayer> removed) ABSL_LOCKS_EXCLUDED(write_mu_);

  const Options options_;
  // Counts every event on its way to options_.observer; outlives the registry's batchers.
  InferenceStatistics statistics_{options_.observer};
  mutable std::mutex write_mu_;      // see the file comment
  std::condition_variable retired_;  // signalled when a name leaves retiring_
  std::multiset<std::string> retiring_ ABSL_GUARDED_BY(write_mu_);  // removed, still draining
  int64_t repository_writes_ ABSL_GUARDED_BY(write_mu_) = 0;
  // Written under write_mu_ only; its const reads run alongside (see the file comment).
  const std::unique_ptr<ModelRepository> repository_;
  // Changed under write_mu_ too, but read alone: a GetLayer of an unserved layer never waits
  // for a slow create.
  mutable std::mutex unavailable_mu_;
  std::map<std::string, std::string> unavailable_ ABSL_GUARDED_BY(unavailable_mu_);  // -> why
  LayerRegistry registry_;
  std::atomic<bool> draining_{false};
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_LAYER_MANAGER_IMPL_H_
