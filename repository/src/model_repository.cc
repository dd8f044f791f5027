#include "tconv/repository/model_repository.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/npy/npy.h"
#include "tconv/repository/model_repository_config.h"

namespace tconv::server {
namespace fs = std::filesystem;
namespace {

constexpr char kConfigFile[] = "config.json";
constexpr char kKernelFile[] = "kernel.npy";
constexpr char kBiasFile[] = "bias.npy";
constexpr int64_t kMaxConfigBytes = 1 << 20;

absl::Status IoError(const std::string& what, const std::string& path, int error) {
  return absl::FailedPreconditionError(
      absl::StrCat("model repository: cannot ", what, " ", path, ": ", std::strerror(error)));
}

// fsync of a file or directory, so that a rename that follows is durable after a crash.
absl::Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return result == 0 ? absl::OkStatus() : IoError("fsync", path, error);
}

absl::Status WriteSyncedFile(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("create", path, errno);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    done += n;
  }
  const int error = errno;
  const bool ok = done == bytes.size() && ::fsync(fd) == 0;
  ::close(fd);
  return ok ? absl::OkStatus() : IoError("write", path, error);
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return IoError("rename to " + to, from, errno);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error == std::errc::no_such_file_or_directory) {
    return absl::InvalidArgumentError("config.json is missing");
  }
  if (error || size > static_cast<uintmax_t>(kMaxConfigBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json is unreadable or larger than ", kMaxConfigBytes, " bytes"));
  }
  std::string text(size, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  const ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return IoError("read", path, errno);
  return text;
}

// An npy file that must exist: its absence is a defect of the entry, not NOT_FOUND.
absl::StatusOr<NpyArray> ReadRequiredNpy(const std::string& path, const std::string& what) {
  auto array = ReadNpyFile(path, what);
  if (array.status().code() == absl::StatusCode::kNotFound) {
    return absl::InvalidArgumentError(what + " is missing");
  }
  return array;
}

absl::Status CheckShape(const NpyArray& array, const std::vector<int64_t>& expected,
                        const std::string& what, const std::string& meaning) {
  if (array.shape != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": shape (", absl::StrJoin(array.shape, ", "), ") does not fit the config: ", meaning,
        " = (", absl::StrJoin(expected, ", "), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckFinite(const std::vector<float>& values, const std::string& what) {
  const auto bad =
      std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  if (bad == values.end()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": element ", bad - values.begin(), " is ",
                                                 std::isnan(*bad) ? "NaN" : "infinite",
                                                 "; weights must be finite"));
}

// Reads kernel.npy and bias.npy of `folder` and checks them against the config.
absl::Status LoadWeights(const std::string& folder, StoredLayer& layer) {
  const LayerConfig& config = layer.config;
  ASSIGN_OR_RETURN(NpyArray kernel, ReadRequiredNpy(folder + "/" + kKernelFile, kKernelFile));
  if (layer.in_channels == 0 && kernel.shape.size() == 4) layer.in_channels = kernel.shape[3];
  RETURN_IF_ERROR(CheckShape(
      kernel, {config.kernel_size[0], config.kernel_size[1], config.filters, layer.in_channels},
      kKernelFile, "expected (kh, kw, filters, in_channels)"));
  RETURN_IF_ERROR(CheckFinite(kernel.data, kKernelFile));
  layer.weights.kernel = std::move(kernel.data);
  const std::string bias_path = folder + "/" + kBiasFile;
  if (!config.use_bias) {
    if (fs::exists(bias_path)) {
      return absl::InvalidArgumentError("bias.npy is present but the config has use_bias false");
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(NpyArray bias, ReadRequiredNpy(bias_path, kBiasFile));
  RETURN_IF_ERROR(CheckShape(bias, {config.filters}, kBiasFile, "expected (filters)"));
  RETURN_IF_ERROR(CheckFinite(bias.data, kBiasFile));
  layer.weights.bias = std::move(bias.data);
  return absl::OkStatus();
}

// Hidden folders: ".tmp-<name>.<pid>.<n>" (a layer being written), ".old-<name>.<pid>.<n>"
// (the previous version during a replace), ".del-<name>.<pid>.<n>" (being deleted).
std::string LayerOfHidden(const std::string& entry) {
  std::string name = entry.substr(5);
  for (int i = 0; i < 2; ++i) name = name.substr(0, std::min(name.size(), name.rfind('.')));
  return name;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Open(Options options) {
  std::error_code error;
  fs::create_directories(options.dir, error);
  if (error || !fs::is_directory(options.dir) || ::access(options.dir.c_str(), W_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("model repository '", options.dir,
                                                      "' is not a writable directory",
                                                      error ? ": " : "", error.message()));
  }
  std::unique_ptr<ModelRepository> repository(new ModelRepository(std::move(options)));
  // Finish what a crash interrupted. A ".old-" folder whose layer is missing is the only
  // complete copy of a replace that never committed: it goes back. Everything else hidden
  // is an uncommitted write or a committed delete/replace's garbage.
  for (const auto& entry : fs::directory_iterator(repository->dir(), error)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_directory() || file.size() < 5 || file[0] != '.') continue;
    const std::string prefix = file.substr(0, 5);
    if (prefix != ".tmp-" && prefix != ".old-" && prefix != ".del-") continue;
    const std::string layer = repository->PathOf(LayerOfHidden(file));
    if (prefix == ".old-" && !fs::exists(layer) && Rename(entry.path(), layer).ok()) continue;
    fs::remove_all(entry.path(), error);
  }
  RETURN_IF_ERROR(SyncPath(repository->dir()));
  return repository;
}

std::vector<std::string> ModelRepository::List() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir(), error)) {
    const std::string file = entry.path().filename().string();
    if (entry.is_directory(error) && !file.empty() && file[0] != '.') names.push_back(file);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool ModelRepository::Contains(const std::string& name) const {
  std::error_code error;
  return ValidateLayerName(name).ok() && fs::is_directory(PathOf(name), error);
}

absl::StatusOr<StoredLayer> ModelRepository::Load(const std::string& name) const {
  RETURN_IF_ERROR(ValidateLayerName(name));
  if (!Contains(name)) {
    return absl::NotFoundError(absl::StrCat("no folder '", name, "' in the model repository"));
  }
  const std::string folder = PathOf(name);
  ASSIGN_OR_RETURN(const std::string text, ReadConfigFile(folder + "/" + kConfigFile));
  ASSIGN_OR_RETURN(internal::LayerConfigFile file,
                   internal::DecodeLayerConfigFile(text, options_.default_batching));
  StoredLayer layer;
  layer.config = std::move(file.config);
  layer.in_channels = file.in_channels.value_or(0);
  layer.batching = file.batching;
  layer.created = file.created;
  layer.version = file.version.value_or(1);
  RETURN_IF_ERROR(LoadWeights(folder, layer));
  return layer;
}

absl::StatusOr<int64_t> ModelRepository::StoredVersion(const std::string& name) const {
  RETURN_IF_ERROR(ValidateLayerName(name));
  ASSIGN_OR_RETURN(const std::string text, ReadConfigFile(PathOf(name) + "/" + kConfigFile));
  ASSIGN_OR_RETURN(internal::LayerConfigFile file,
                   internal::DecodeLayerConfigFile(text, options_.default_batching));
  return file.version.value_or(1);
}

std::string ModelRepository::TempPath(const std::string& kind, const std::string& name) {
  return absl::StrCat(dir(), "/.", kind, "-", name, ".", ::getpid(), ".", temp_counter_++);
}

absl::Status ModelRepository::Save(const std::string& name, const StoredLayer& layer) {
  RETURN_IF_ERROR(ValidateLayerName(name));
  const LayerConfig& config = layer.config;
  const std::string temp = TempPath("tmp", name);
  const auto write_all = [&]() -> absl::Status {
    if (::mkdir(temp.c_str(), 0755) != 0) return IoError("create", temp, errno);
    internal::LayerConfigFile file{config, layer.in_channels, layer.batching, layer.created,
                                   layer.version};
    RETURN_IF_ERROR(WriteSyncedFile(temp + "/" + kConfigFile, EncodeLayerConfigFile(file)));
    const std::vector<int64_t> kernel_shape = {config.kernel_size[0], config.kernel_size[1],
                                               config.filters, layer.in_channels};
    RETURN_IF_ERROR(WriteSyncedFile(temp + "/" + kKernelFile,
                                    SerializeNpy(kernel_shape, layer.weights.kernel)));
    if (config.use_bias) {
      RETURN_IF_ERROR(WriteSyncedFile(temp + "/" + kBiasFile,
                                      SerializeNpy({config.filters}, layer.weights.bias)));
    }
    return SyncPath(temp);
  };
  absl::Status status = write_all();
  if (status.ok()) status = Commit(temp, name);
  std::error_code ignored;
  if (!status.ok()) fs::remove_all(temp, ignored);
  return status;
}

// Moves a complete temp folder into place. A replace renames the old version aside first;
// a crash between the two renames leaves ".old-<name>..." as the only copy, which Open()
// renames back, so the layer is never lost (the replace just did not happen).
absl::Status ModelRepository::Commit(const std::string& temp, const std::string& name) {
  const std::string target = PathOf(name);
  std::error_code error;
  if (!fs::exists(target, error)) {
    RETURN_IF_ERROR(Rename(temp, target));
    return SyncPath(dir());
  }
  const std::string old = TempPath("old", name);
  RETURN_IF_ERROR(Rename(target, old));
  if (absl::Status status = Rename(temp, target); !status.ok()) {
    Rename(old, target).IgnoreError();  // put the previous version back
    return status;
  }
  if (absl::Status status = SyncPath(dir()); !status.ok()) {
    if (Rename(target, temp).ok()) Rename(old, target).IgnoreError();  // roll back
    return status;
  }
  fs::remove_all(old, error);
  return absl::OkStatus();
}

absl::Status ModelRepository::Remove(const std::string& name) {
  RETURN_IF_ERROR(ValidateLayerName(name));
  if (!Contains(name)) {
    return absl::NotFoundError(absl::StrCat("no folder '", name, "' in the model repository"));
  }
  const std::string trash = TempPath("del", name);
  RETURN_IF_ERROR(Rename(PathOf(name), trash));
  absl::Status status = SyncPath(dir());
  std::error_code error;
  fs::remove_all(trash, error);
  return status;
}

}  // namespace tconv::server
