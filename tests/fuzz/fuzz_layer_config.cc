// Keras config JSON (LayerConfig::FromJson): the text of CreateLayer's config_json, of a
// RepositoryModelLoad "config" parameter and of a repository folder's config.json. Whatever
// it accepts must be valid and survive ToJson -> FromJson unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "tconv/kernel/layer_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto config = tconv::LayerConfig::FromJson(json);
  if (!config.ok()) {
    TCONV_FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  TCONV_FUZZ_CHECK(config->Validate().ok());
  auto again = tconv::LayerConfig::FromJson(config->ToJson());
  TCONV_FUZZ_CHECK(again.ok());
  TCONV_FUZZ_CHECK(*again == *config);
  return 0;
}
