#include "server/core/shared_memory_registry.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tconv::server {
namespace {

absl::Status OpenError(const std::string& key, int error) {
  const std::string message =
      absl::StrCat("cannot open shared memory key '", key, "': ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  if (error == EINVAL || error == ENAMETOOLONG) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

absl::Status NotRegistered(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("shared memory region '", name, "' is not registered"));
}

// Closes the descriptor on every path; the mapping outlives it.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

SharedMemoryRegion::~SharedMemoryRegion() { munmap(mapping_, mapping_size_); }

absl::StatusOr<absl::Span<char>> SharedMemoryRegion::Slice(uint64_t offset,
                                                           uint64_t byte_size) const {
  if (offset > info_.byte_size || byte_size > info_.byte_size - offset) {
    return absl::InvalidArgumentError(absl::StrCat("shared memory offset ", offset, " + byte size ",
                                                   byte_size, " is outside region '", info_.name,
                                                   "' of ", info_.byte_size, " bytes"));
  }
  return absl::Span<char>(start_ + offset, byte_size);
}

absl::Status SharedMemoryRegistry::Register(const SharedMemoryRegionInfo& info) {
  if (info.name.empty()) {
    return absl::InvalidArgumentError("a shared memory region needs a non-empty name");
  }
  if (info.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory region '", info.name, "' needs a non-empty key"));
  }
  if (info.byte_size == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory region '", info.name, "' has byte_size 0; expected > 0"));
  }
  constexpr uint64_t kMaxOffset = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  if (info.offset > kMaxOffset || info.byte_size > kMaxOffset - info.offset) {
    return absl::InvalidArgumentError(absl::StrCat("shared memory region '", info.name,
                                                   "': offset ", info.offset, " + byte_size ",
                                                   info.byte_size, " overflows"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (regions_.count(info.name) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("shared memory region '", info.name,
                                                   "' is already registered; unregister it first"));
    }
  }
  Fd fd{shm_open(info.key.c_str(), O_RDWR, 0)};
  if (fd.fd < 0) return OpenError(info.key, errno);
  struct stat st {};
  if (fstat(fd.fd, &st) != 0) return OpenError(info.key, errno);
  const uint64_t end = info.offset + info.byte_size;
  if (end > static_cast<uint64_t>(st.st_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory region '", info.name, "': offset ", info.offset,
                     " + byte_size ", info.byte_size, " = ", end, " is beyond the end of key '",
                     info.key, "' (", st.st_size, " bytes)"));
  }
  // mmap needs a page-aligned file offset: map from the page holding `offset`.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t aligned = info.offset - info.offset % page;
  const size_t length = static_cast<size_t>(end - aligned);
  void* mapping =
      mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, static_cast<off_t>(aligned));
  if (mapping == MAP_FAILED) {
    return absl::InternalError(
        absl::StrCat("cannot map shared memory key '", info.key, "': ", std::strerror(errno)));
  }
  std::shared_ptr<const SharedMemoryRegion> region(new SharedMemoryRegion(
      info, mapping, length, static_cast<char*>(mapping) + (info.offset - aligned)));
  absl::MutexLock lock(&mu_);
  // Checked again: another Register of the same name may have won while this one mapped.
  if (!regions_.emplace(info.name, std::move(region)).second) {
    return absl::AlreadyExistsError(absl::StrCat("shared memory region '", info.name,
                                                 "' is already registered; unregister it first"));
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryRegistry::Unregister(const std::string& name) {
  if (name.empty()) {
    Clear();
    return absl::OkStatus();
  }
  std::shared_ptr<const SharedMemoryRegion> released;  // declared first: unmapped after unlocking
  absl::MutexLock lock(&mu_);
  auto it = regions_.find(name);
  // Like Triton: unregistering a name that is not registered is not an error.
  if (it == regions_.end()) return absl::OkStatus();
  released = std::move(it->second);
  regions_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const SharedMemoryRegion>> SharedMemoryRegistry::Find(
    const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = regions_.find(name);
  if (it == regions_.end()) return NotRegistered(name);
  return it->second;
}

absl::StatusOr<std::vector<SharedMemoryRegionInfo>> SharedMemoryRegistry::List(
    const std::string& name) const {
  absl::MutexLock lock(&mu_);
  std::vector<SharedMemoryRegionInfo> out;
  if (name.empty()) {
    for (const auto& [unused, region] : regions_) out.push_back(region->info());
    return out;
  }
  auto it = regions_.find(name);
  if (it == regions_.end()) return NotRegistered(name);
  out.push_back(it->second->info());
  return out;
}

void SharedMemoryRegistry::Clear() {
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>> released;
  absl::MutexLock lock(&mu_);
  released.swap(regions_);
}

}  // namespace tconv::server
