#include "tconv/repository/model_repository_config.h"

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tconv/kernel/status_macros.h"

namespace tconv::server::internal {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: ", message));
}

// A JSON value for an error message, cut short: a config may hold a large array.
std::string Brief(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

absl::Status CheckKeys(const json& object, const std::string& where,
                       std::initializer_list<const char*> allowed) {
  for (const auto& item : object.items()) {
    bool known = false;
    for (const char* key : allowed) known = known || item.key() == key;
    if (!known) {
      return Invalid(absl::StrCat("unknown key '", item.key(), "' in ", where, " (expected ",
                                  absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> GetInteger(const json& object, const char* key, int64_t min) {
  const json& value = object.at(key);
  if (!value.is_number_integer() || value.get<int64_t>() < min) {
    return Invalid(absl::StrCat("'", key, "' must be an integer >= ", min, ", got ", Brief(value)));
  }
  return value.get<int64_t>();
}

absl::StatusOr<BatchingOptions> DecodeBatching(const json& object,
                                               const BatchingOptions& defaults) {
  if (!object.is_object()) return Invalid("'batching' must be an object, got " + Brief(object));
  RETURN_IF_ERROR(
      CheckKeys(object, "'batching'", {"max_batch_size", "batch_timeout_us", "max_queue_size"}));
  BatchingOptions options = defaults;
  if (object.contains("max_batch_size")) {
    ASSIGN_OR_RETURN(options.max_batch_size, GetInteger(object, "max_batch_size", 1));
  }
  if (object.contains("batch_timeout_us")) {
    ASSIGN_OR_RETURN(const int64_t micros, GetInteger(object, "batch_timeout_us", 0));
    options.batch_timeout = absl::Microseconds(micros);
  }
  if (object.contains("max_queue_size")) {
    ASSIGN_OR_RETURN(options.max_queue_size, GetInteger(object, "max_queue_size", 1));
  }
  const absl::Status status = options.Validate();
  if (!status.ok()) return Invalid(absl::StrCat("'batching': ", status.message()));
  return options;
}

absl::StatusOr<LayerConfig> DecodeKeras(const json& keras) {
  auto config = LayerConfig::FromJson(keras.dump());
  if (!config.ok()) return Invalid(std::string(config.status().message()));
  return config;
}

absl::StatusOr<LayerConfigFile> DecodeTconvFormat(const json& root,
                                                  const BatchingOptions& defaults) {
  RETURN_IF_ERROR(
      CheckKeys(root, "the top level",
                {"tconv_format", "keras", "in_channels", "created", "batching", "version"}));
  LayerConfigFile file;
  if (root.contains("tconv_format")) {
    ASSIGN_OR_RETURN(const int64_t format, GetInteger(root, "tconv_format", 1));
    if (format != kRepositoryFormat) {
      return Invalid(absl::StrCat("'tconv_format' ", format,
                                  " is not supported (this tconv "
                                  "reads format ",
                                  kRepositoryFormat, ")"));
    }
  }
  ASSIGN_OR_RETURN(file.config, DecodeKeras(root.at("keras")));
  if (root.contains("in_channels")) {
    ASSIGN_OR_RETURN(file.in_channels, GetInteger(root, "in_channels", 1));
  }
  if (root.contains("created")) {
    const json& created = root.at("created");
    absl::Time time;
    std::string error;
    if (!created.is_string() ||
        !absl::ParseTime(absl::RFC3339_full, created.get<std::string>(), &time, &error)) {
      return Invalid("'created' must be an RFC 3339 time, got " + Brief(created));
    }
    file.created = time;
  }
  if (root.contains("version")) {
    ASSIGN_OR_RETURN(file.version, GetInteger(root, "version", 1));
  }
  if (root.contains("batching")) {
    ASSIGN_OR_RETURN(file.batching, DecodeBatching(root.at("batching"), defaults));
  }
  return file;
}

}  // namespace

std::string EncodeLayerConfigFile(const LayerConfigFile& file) {
  json root = json::object();
  root["tconv_format"] = kRepositoryFormat;
  root["keras"] = json::parse(file.config.ToJson());
  if (file.in_channels) root["in_channels"] = *file.in_channels;
  if (file.created) {
    root["created"] = absl::FormatTime(absl::RFC3339_full, *file.created, absl::UTCTimeZone());
  }
  if (file.version) root["version"] = *file.version;
  if (file.batching) {
    root["batching"] = {
        {"max_batch_size", file.batching->max_batch_size},
        {"batch_timeout_us", absl::ToInt64Microseconds(file.batching->batch_timeout)},
        {"max_queue_size", file.batching->max_queue_size},
    };
  }
  return root.dump(2) + "\n";
}

absl::StatusOr<LayerConfigFile> DecodeLayerConfigFile(const std::string& text,
                                                      const BatchingOptions& default_batching) {
  json root = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Invalid("not valid JSON");
  if (!root.is_object()) return Invalid("expected a JSON object, got " + Brief(root));
  if (root.contains("keras")) return DecodeTconvFormat(root, default_batching);
  LayerConfigFile file;  // a plain Keras config written by hand
  ASSIGN_OR_RETURN(file.config, DecodeKeras(root));
  return file;
}

}  // namespace tconv::server::internal
