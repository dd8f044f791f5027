#include "hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tconv::keras_import {
namespace {

static_assert(sizeof(hid_t) == sizeof(int64_t), "hid_t is held as int64_t");

// Closes an HDF5 handle with the function of its kind.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// The library prints its error stack to stderr by default; our Status says what went wrong.
void SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

absl::StatusOr<std::vector<std::string>> ReadStrings(hid_t attribute, const std::string& what) {
  Handle type(H5Aget_type(attribute), H5Tclose);
  Handle space(H5Aget_space(attribute), H5Sclose);
  if (!type.ok() || !space.ok() || H5Tget_class(type.get()) != H5T_STRING) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a string attribute"));
  }
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) return absl::InvalidArgumentError(absl::StrCat(what, ": unreadable extent"));
  std::vector<std::string> values;
  if (H5Tis_variable_str(type.get()) > 0) {
    std::vector<char*> pointers(static_cast<size_t>(count), nullptr);
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5Tget_cset(type.get()));  // h5py writes str as UTF-8
    if (H5Aread(attribute, memory.get(), pointers.data()) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": cannot be read"));
    }
    for (char* pointer : pointers) values.emplace_back(pointer == nullptr ? "" : pointer);
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
    return values;
  }
  const size_t size = H5Tget_size(type.get());
  std::string buffer(size * static_cast<size_t>(count), '\0');
  if (H5Aread(attribute, type.get(), buffer.data()) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot be read"));
  }
  for (hssize_t i = 0; i < count; ++i) {
    std::string value = buffer.substr(static_cast<size_t>(i) * size, size);
    value.erase(std::find(value.begin(), value.end(), '\0'), value.end());  // NUL padding
    values.push_back(std::move(value));
  }
  return values;
}

}  // namespace

struct Hdf5File::Image {
  std::string bytes;
};

Hdf5File::Hdf5File(int64_t id, std::string label, std::unique_ptr<Image> image)
    : id_(id), label_(std::move(label)), image_(std::move(image)) {}
Hdf5File::Hdf5File(Hdf5File&& other) noexcept
    : id_(std::exchange(other.id_, -1)),
      label_(std::move(other.label_)),
      image_(std::move(other.image_)) {}
Hdf5File& Hdf5File::operator=(Hdf5File&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = std::exchange(other.id_, -1);
    label_ = std::move(other.label_);
    image_ = std::move(other.image_);
  }
  return *this;
}
Hdf5File::~Hdf5File() {
  if (id_ >= 0) H5Fclose(id_);
}

absl::StatusOr<Hdf5File> Hdf5File::Open(const std::string& path, const std::string& label) {
  SilenceHdf5();
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(label, " is not an HDF5 file"));
  }
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) return absl::InvalidArgumentError(absl::StrCat(label, ": HDF5 cannot open it"));
  return Hdf5File(id, label, nullptr);
}

absl::StatusOr<Hdf5File> Hdf5File::FromImage(std::string bytes, const std::string& label) {
  SilenceHdf5();
  auto image = std::make_unique<Image>(Image{std::move(bytes)});
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // The core driver reads the file from memory; without a backing store nothing is written.
  if (!access.ok() || H5Pset_fapl_core(access.get(), 1 << 16, 0) < 0 ||
      H5Pset_file_image(access.get(), image->bytes.data(), image->bytes.size()) < 0) {
    return absl::InternalError(absl::StrCat(label, ": HDF5 file-image set-up failed"));
  }
  const hid_t id = H5Fopen(label.c_str(), H5F_ACC_RDONLY, access.get());
  if (id < 0) return absl::InvalidArgumentError(absl::StrCat(label, " is not an HDF5 file"));
  return Hdf5File(id, label, std::move(image));
}

bool Hdf5File::Exists(const std::string& path) const {
  if (path == "/") return true;
  // Every prefix must exist before H5Oexists_by_name may be asked about the full path.
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
  }
}

absl::StatusOr<std::optional<std::string>> Hdf5File::StringAttribute(
    const std::string& path, const std::string& name) const {
  if (!Exists(path) || H5Aexists_by_name(id_, path.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    return std::nullopt;
  }
  const std::string what = absl::StrCat(label_, ": attribute ", name, " of ", path);
  Handle attribute(H5Aopen_by_name(id_, path.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Aclose);
  if (!attribute.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot open"));
  absl::StatusOr<std::vector<std::string>> values = ReadStrings(attribute.get(), what);
  if (!values.ok()) return values.status();
  if (values->size() != 1) return absl::InvalidArgumentError(absl::StrCat(what, " is no scalar"));
  return std::optional<std::string>((*values)[0]);
}

absl::StatusOr<std::vector<std::string>> Hdf5File::StringListAttribute(
    const std::string& path, const std::string& name) const {
  std::vector<std::string> all;
  if (!Exists(path)) return all;
  const auto read = [&](const std::string& attribute_name) -> absl::StatusOr<bool> {
    if (H5Aexists_by_name(id_, path.c_str(), attribute_name.c_str(), H5P_DEFAULT) <= 0) {
      return false;
    }
    Handle attribute(
        H5Aopen_by_name(id_, path.c_str(), attribute_name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
    Handle type(H5Aget_type(attribute.get()), H5Tclose);
    // Keras writes an empty weight_names as a float64 array of length 0.
    if (type.ok() && H5Tget_class(type.get()) != H5T_STRING) return true;
    absl::StatusOr<std::vector<std::string>> values = ReadStrings(
        attribute.get(), absl::StrCat(label_, ": attribute ", attribute_name, " of ", path));
    if (!values.ok()) return values.status();
    all.insert(all.end(), values->begin(), values->end());
    return true;
  };
  absl::StatusOr<bool> whole = read(name);
  if (!whole.ok()) return whole.status();
  for (int chunk = 0; !*whole; ++chunk) {
    absl::StatusOr<bool> found = read(absl::StrCat(name, chunk));
    if (!found.ok()) return found.status();
    if (!*found) break;
  }
  return all;
}

absl::StatusOr<std::vector<std::string>> Hdf5File::Children(const std::string& path) const {
  Handle group(H5Gopen2(id_, path.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.ok()) return absl::NotFoundError(absl::StrCat(label_, ": no group ", path));
  H5G_info_t info;
  if (H5Gget_info(group.get(), &info) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(label_, ": group ", path, " unreadable"));
  }
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t size = H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                            nullptr, 0, H5P_DEFAULT);
    if (size < 0) continue;
    std::string name(static_cast<size_t>(size), '\0');
    H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                       name.size() + 1, H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<Float32Array> Hdf5File::ReadFloat32(const std::string& path) const {
  const std::string what = absl::StrCat(label_, ": dataset ", path);
  if (!Exists(path)) return absl::NotFoundError(absl::StrCat(what, " is missing"));
  Handle dataset(H5Dopen2(id_, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) return absl::InvalidArgumentError(absl::StrCat(what, " is no dataset"));
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  if (!type.ok() || H5Tget_class(type.get()) != H5T_FLOAT || H5Tget_size(type.get()) != 4) {
    const bool is_float = type.ok() && H5Tget_class(type.get()) == H5T_FLOAT;
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not float32 but ", is_float ? "float" : "a non-float of ",
                     8 * H5Tget_size(type.get()), is_float ? "" : " bits"));
  }
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) return absl::InvalidArgumentError(absl::StrCat(what, ": bad rank"));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Float32Array array;
  size_t count = 1;
  for (hsize_t dim : dims) {
    array.shape.push_back(static_cast<int64_t>(dim));
    count *= static_cast<size_t>(dim);
  }
  array.data.resize(count);
  if (count > 0 && H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                           array.data.data()) < 0) {
    return absl::DataLossError(absl::StrCat(what, " cannot be read (truncated file?)"));
  }
  return array;
}

}  // namespace tconv::keras_import
