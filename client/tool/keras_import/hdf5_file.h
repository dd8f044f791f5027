// A read-only HDF5 file through the HDF5 C library: the few reads a saved Keras model needs
// (string attributes, float32 datasets, child groups). Handles are closed by RAII.
#ifndef TCONV_CLIENT_TOOL_KERAS_IMPORT_HDF5_FILE_H_
#define TCONV_CLIENT_TOOL_KERAS_IMPORT_HDF5_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tconv::keras_import {

struct Float32Array {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class Hdf5File {
 public:
  // `label` names the file in every error. INVALID_ARGUMENT when it is not an HDF5 file.
  static absl::StatusOr<Hdf5File> Open(const std::string& path, const std::string& label);
  // The same from an in-memory image (the model.weights.h5 inside a .keras zip).
  static absl::StatusOr<Hdf5File> FromImage(std::string image, const std::string& label);

  Hdf5File(Hdf5File&&) noexcept;
  Hdf5File& operator=(Hdf5File&&) noexcept;
  ~Hdf5File();

  bool Exists(const std::string& path) const;  // a group or dataset at that path
  // A scalar string attribute of the object at `path` ("/" for the root); nullopt when absent.
  absl::StatusOr<std::optional<std::string>> StringAttribute(const std::string& path,
                                                             const std::string& name) const;
  // A 1-D string-array attribute (Keras' weight_names), also when Keras split it into
  // name0, name1, ... because it outgrew the object header; empty when absent.
  absl::StatusOr<std::vector<std::string>> StringListAttribute(const std::string& path,
                                                               const std::string& name) const;
  // Names of the direct children of the group at `path`, sorted.
  absl::StatusOr<std::vector<std::string>> Children(const std::string& path) const;
  // A float32 dataset; INVALID_ARGUMENT naming it for another type.
  absl::StatusOr<Float32Array> ReadFloat32(const std::string& path) const;

  const std::string& label() const { return label_; }

 private:
  struct Image;
  Hdf5File(int64_t id, std::string label, std::unique_ptr<Image> image);
  int64_t id_ = -1;
  std::string label_;
  std::unique_ptr<Image> image_;  // kept alive while the file is open
};

}  // namespace tconv::keras_import

#endif  // TCONV_CLIENT_TOOL_KERAS_IMPORT_HDF5_FILE_H_
