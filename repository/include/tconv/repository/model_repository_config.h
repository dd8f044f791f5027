// The config.json of a repository folder (internal to the model repository; README.md
// documents the format for users).
#ifndef TCONV_REPOSITORY_MODEL_REPOSITORY_CONFIG_H_
#define TCONV_REPOSITORY_MODEL_REPOSITORY_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/repository/batching_options.h"

namespace tconv::server::internal {

// The version tconv writes into "tconv_format"; a folder written by a newer tconv with a
// format this one does not know is refused rather than half understood.
constexpr int kRepositoryFormat = 1;

struct LayerConfigFile {
  LayerConfig config;
  std::optional<int64_t> in_channels;       // absent in a plain Keras config
  std::optional<BatchingOptions> batching;  // absent: the server's defaults
  std::optional<absl::Time> created;
  std::optional<int64_t> version;  // absent in a hand-written folder: version 1
};

// Pretty-printed JSON: {"tconv_format": 1, "keras": {...}, "in_channels": C, ...}.
std::string EncodeLayerConfigFile(const LayerConfigFile& file);

// Accepts tconv's own format (an object with a "keras" key) or, for folders written by hand, a
// plain Keras get_config() dict or {"class_name": ..., "config": ...}. Batching fields left out
// take `default_batching`. INVALID_ARGUMENT starting with "config.json: " names the field.
absl::StatusOr<LayerConfigFile> DecodeLayerConfigFile(const std::string& text,
                                                      const BatchingOptions& default_batching);

}  // namespace tconv::server::internal

#endif  // TCONV_REPOSITORY_MODEL_REPOSITORY_CONFIG_H_
