// Registered POSIX shared memory regions (Triton's system shared memory extension), by name. A
// client on this host creates an object with shm_open, registers (name, key, offset, byte_size)
// and then names the region in a request's tensors; the server maps it once at registration and
// reads inputs / writes outputs there. No gRPC here: the transport parses the requests.
//
// Lifetime: Find hands out a shared_ptr, so a region unregistered (or the registry cleared) while
// a request still uses it stays mapped until that request lets go; new requests no longer find it.
#ifndef TCONV_SERVER_CORE_SHARED_MEMORY_REGISTRY_H_
#define TCONV_SERVER_CORE_SHARED_MEMORY_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace tconv::server {

struct SharedMemoryRegionInfo {
  std::string name;
  std::string key;  // the shm_open name
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// One mapped region: [offset, offset + byte_size) of the object `key`. Unmapped on destruction.
class SharedMemoryRegion {
 public:
  ~SharedMemoryRegion();
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;

  const SharedMemoryRegionInfo& info() const { return info_; }
  // `byte_size` bytes at `offset` inside the region (offsets are relative to the region's start).
  // INVALID_ARGUMENT naming the region and its size when they do not fit (overflow included).
  absl::StatusOr<absl::Span<char>> Slice(uint64_t offset, uint64_t byte_size) const;

 private:
  friend class SharedMemoryRegistry;
  SharedMemoryRegion(SharedMemoryRegionInfo info, void* mapping, size_t mapping_size, char* start)
      : info_(std::move(info)), mapping_(mapping), mapping_size_(mapping_size), start_(start) {}
  const SharedMemoryRegionInfo info_;
  void* const mapping_;  // page-aligned, as mmap returned it
  const size_t mapping_size_;
  char* const start_;  // mapping_ + (offset within the first page)
};

class SharedMemoryRegistry {
 public:
  SharedMemoryRegistry() = default;
  SharedMemoryRegistry(const SharedMemoryRegistry&) = delete;
  SharedMemoryRegistry& operator=(const SharedMemoryRegistry&) = delete;

  // Opens `key` read-write and maps [offset, offset + byte_size). INVALID_ARGUMENT for an empty
  // name or key, byte_size 0, offset + byte_size overflowing or beyond the object's size;
  // ALREADY_EXISTS for a name already registered; NOT_FOUND when no object `key` exists,
  // PERMISSION_DENIED when it may not be opened read-write, INTERNAL for other failures (the
  // system's reason is in the message).
  absl::Status Register(const SharedMemoryRegionInfo& info);
  // Forgets `name` ("" = every region). Like Triton, a name not registered is no error.
  absl::Status Unregister(const std::string& name);
  // NOT_FOUND (naming it) when `name` is not registered.
  absl::StatusOr<std::shared_ptr<const SharedMemoryRegion>> Find(const std::string& name) const;
  // `name`'s info, or every region's when `name` is ""; NOT_FOUND for a name not registered.
  absl::StatusOr<std::vector<SharedMemoryRegionInfo>> List(const std::string& name) const;
  // Unregisters everything (server shutdown).
  void Clear();

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>> regions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_SHARED_MEMORY_REGISTRY_H_
