#include "server/core/layer_registry.h"

#include <mutex>
#include <utility>

#include "absl/time/clock.h"

namespace tconv::server {

std::shared_ptr<const ServedLayer> LayerRegistry::Find(const std::string& name) const {
  std::shared_lock lock(mu_);
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const ServedLayer>> LayerRegistry::List() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const ServedLayer>> entries;
  entries.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) entries.push_back(entry);
  return entries;
}

std::shared_ptr<const ServedLayer> LayerRegistry::Put(std::shared_ptr<const ServedLayer> entry) {
  const std::string name = entry->info.name;
  std::unique_lock lock(mu_);
  std::shared_ptr<const ServedLayer>& slot = entries_[name];
  std::swap(slot, entry);
  return entry;  // the previous occupant; destroyed by the caller, outside the lock
}

std::shared_ptr<const ServedLayer> LayerRegistry::Remove(const std::string& name) {
  std::unique_lock lock(mu_);
  const auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  std::shared_ptr<const ServedLayer> entry = std::move(it->second);
  entries_.erase(it);
  return entry;
}

void RetireWhenUnused(std::shared_ptr<const ServedLayer> entry) {
  if (entry == nullptr) return;
  // Once out of the registry nobody can gain a new reference, so use_count() only falls and
  // reading 1 is final. The decrement that makes it 1 is a release operation and our own
  // final decrement in reset() an acquire, which orders the other holder's uses before the
  // destruction.
  while (entry.use_count() > 1) absl::SleepFor(absl::Microseconds(50));
  entry.reset();
}

}  // namespace tconv::server
