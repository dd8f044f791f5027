// The .npy reader (ParseNpy): weights of repository folders and of RepositoryModelLoad's
// "file:kernel.npy" / "file:bias.npy". Whatever it accepts must hold product(shape) values and
// survive SerializeNpy -> ParseNpy unchanged.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_check.h"
#include "tconv/npy/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto array = tconv::server::ParseNpy(bytes, "fuzz.npy");
  if (!array.ok()) {
    TCONV_FUZZ_CHECK(array.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  int64_t elements = 1;
  for (int64_t dim : array->shape) {
    TCONV_FUZZ_CHECK(dim >= 0);
    elements *= dim;
  }
  TCONV_FUZZ_CHECK(static_cast<int64_t>(array->data.size()) == elements);
  auto again =
      tconv::server::ParseNpy(tconv::server::SerializeNpy(array->shape, array->data), "fuzz.npy");
  TCONV_FUZZ_CHECK(again.ok());
  TCONV_FUZZ_CHECK(again->shape == array->shape);
  // Bitwise: NaN payloads must be kept too.
  TCONV_FUZZ_CHECK(again->data.size() == array->data.size());
  TCONV_FUZZ_CHECK(
      array->data.empty() ||  // memcmp must not be given the null of an empty vector
      std::memcmp(again->data.data(), array->data.data(), array->data.size() * sizeof(float)) == 0);
  return 0;
}
