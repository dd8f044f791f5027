// NumPy .npy files of float32 — the weight format of the model repository, so that a user can
// write weights from Python with `np.save("kernel.npy", layer.get_weights()[0])`.
//
// Reads format versions 1.0, 2.0 and 3.0 (NEP 1, numpy/lib/format.py); writes 1.0, which every
// NumPy reads. Only little-endian float32 ('<f4') in C order is accepted: anything else is
// refused with INVALID_ARGUMENT saying what was found and how to convert it, rather than
// converted silently.
#ifndef TCONV_NPY_NPY_H_
#define TCONV_NPY_NPY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tconv::server {

struct NpyArray {
  std::vector<int64_t> shape;  // () for a scalar
  std::vector<float> data;     // row-major (C order), product(shape) elements
};

// Limits that keep a hostile or damaged file from costing memory or time before it is refused.
struct NpyLimits {
  // NumPy's own reader refuses longer headers by default (max_header_size = 10000).
  static constexpr int64_t kMaxHeaderBytes = 10000;
  static constexpr int64_t kMaxRank = 8;
  // The kernel's largest tensor (LayerLimits::kMaxTensorElements): 4 GiB of float32.
  static constexpr int64_t kMaxElements = int64_t{1} << 30;
};

// Parses the bytes of a .npy file. `what` names the file in error messages ("kernel.npy").
absl::StatusOr<NpyArray> ParseNpy(std::string_view bytes, const std::string& what);

// Reads and parses a .npy file; refuses a file too large to be a valid array before reading it.
// NOT_FOUND when the file does not exist.
absl::StatusOr<NpyArray> ReadNpyFile(const std::string& path, const std::string& what);

// The bytes of a version 1.0 .npy file holding `data` with `shape` ('<f4', C order).
// Requires product(shape) == data.size().
std::string SerializeNpy(absl::Span<const int64_t> shape, absl::Span<const float> data);

}  // namespace tconv::server

#endif  // TCONV_NPY_NPY_H_
