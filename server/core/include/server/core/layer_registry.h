// LayerRegistry: the layers being served, name -> immutable shared entry.
//
// Lookups take a reader lock only long enough to copy one shared_ptr, so inference never waits
// for a create/replace/delete: the expensive parts (parsing, packing weights, writing to disk)
// happen before Put() and after Remove(), outside the lock.
//
// Lifetime: an entry removed or replaced here stays alive while anyone holds it. Holders keep
// it only for the duration of a lookup and a Batcher::Submit (never in a completion callback,
// which would make a batch worker destroy its own batcher); RetireWhenUnused() then destroys
// it on the control-plane thread, where the Batcher's destructor waits for its accepted
// requests to be answered. So a replace or delete never fails a request in flight.
#ifndef TCONV_SERVER_CORE_LAYER_REGISTRY_H_
#define TCONV_SERVER_CORE_LAYER_REGISTRY_H_

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "server/core/batcher.h"
#include "server/core/inference_statistics.h"
#include "server/core/layer_manager.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::server {

// One served layer. Immutable after publication; the Batcher is internally synchronized.
struct ServedLayer {
  LayerInfo info;
  std::shared_ptr<const Conv2DTranspose> layer;
  // The version's counters, which its batcher reports to: they outlive the batcher.
  std::shared_ptr<InferenceStatistics::Version> statistics;
  std::unique_ptr<Batcher> batcher;  // declared last: destroyed first, while `layer` lives
};

class LayerRegistry {
 public:
  // The entry served under `name`, or null.
  std::shared_ptr<const ServedLayer> Find(const std::string& name) const;
  // Every entry, sorted by name.
  std::vector<std::shared_ptr<const ServedLayer>> List() const;

  // Serves `entry` under entry->info.name; returns the entry it replaced, or null.
  std::shared_ptr<const ServedLayer> Put(std::shared_ptr<const ServedLayer> entry);
  // Stops serving `name`; returns the removed entry, or null when there was none.
  std::shared_ptr<const ServedLayer> Remove(const std::string& name);

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const ServedLayer>, std::less<>> entries_;  // mu_
};

// Waits until `entry` (already removed from every registry) is held by nobody else, then
// destroys it here, which waits for its in-flight requests. The wait for other holders is
// short: they hold an entry only across a lookup and a Submit. No-op for null.
void RetireWhenUnused(std::shared_ptr<const ServedLayer> entry);

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_LAYER_REGISTRY_H_
