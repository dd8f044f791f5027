// LayerConfig::FromJson: Keras' get_config() dict, or the {"class_name": "Conv2DTranspose",
// "config": {...}} wrapper, read with every spelling Keras accepts (spec §1, §9).
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "keras_objects.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/kernel/status_macros.h"

namespace tconv {
namespace {

using internal::Json;
using internal::JsonText;
using internal::KerasObjectKind;

absl::Status ReadName(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(config.name, internal::ReadString(value, "name"));
  return absl::OkStatus();
}

absl::Status ReadTrainable(const Json& value, LayerConfig&) {
  return internal::ReadBool(value, "trainable").status();
}

// A dtype name or a policy dict: Keras 2's mixed precision {"class_name": "Policy", "config":
// {"name": "mixed_float16"}}, Keras 3's {"class_name": "DTypePolicy", ...} for every dtype. Any
// floating dtype is accepted; tconv computes in float32.
absl::Status ReadDtype(const Json& value, LayerConfig&) {
  if (value.is_null()) return absl::OkStatus();
  std::string name;
  if (value.is_object() && value.contains("config") && value["config"].is_object() &&
      value["config"].contains("name")) {
    ASSIGN_OR_RETURN(name, internal::ReadString(value["config"]["name"], "dtype"));
  } else {
    ASSIGN_OR_RETURN(name, internal::ReadString(value, "dtype"));
  }
  for (absl::string_view known : {"float32", "float16", "bfloat16", "float64", "mixed_float16",
                                  "mixed_bfloat16", "half", "float", "double"}) {
    if (name == known) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "dtype ", JsonText(value), " is not a floating-point dtype or mixed-precision policy"));
}

absl::Status ReadFilters(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(config.filters, internal::ReadInt(value, "filters"));
  return absl::OkStatus();
}

absl::Status ReadKernelSize(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(config.kernel_size, internal::ReadIntOrPair(value, "kernel_size"));
  return absl::OkStatus();
}

absl::Status ReadStrides(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(config.strides, internal::ReadIntOrPair(value, "strides"));
  return absl::OkStatus();
}

absl::Status ReadDilationRate(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(config.dilation_rate, internal::ReadIntOrPair(value, "dilation_rate"));
  return absl::OkStatus();
}

absl::Status ReadOutputPadding(const Json& value, LayerConfig& config) {
  if (value.is_null()) {
    config.output_padding.reset();
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(config.output_padding, internal::ReadIntOrPair(value, "output_padding"));
  return absl::OkStatus();
}

absl::Status ReadPadding(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(std::string text, internal::ReadString(value, "padding"));
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "valid" || lower == "same") {
    config.padding = lower == "same" ? Padding::kSame : Padding::kValid;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("padding \"", text, "\" must be \"valid\" or \"same\"",
                   lower == "causal" ? " (\"causal\" exists only for 1-D convolutions)" : ""));
}

// null is Keras' image_data_format(), "channels_last" by default.
absl::Status ReadDataFormat(const Json& value, LayerConfig& config) {
  if (value.is_null()) {
    config.data_format = DataFormat::kChannelsLast;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string text, internal::ReadString(value, "data_format"));
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "channels_last" || lower == "channels_first") {
    config.data_format =
        lower == "channels_first" ? DataFormat::kChannelsFirst : DataFormat::kChannelsLast;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("data_format \"", text, "\" must be \"channels_last\" or \"channels_first\""));
}

absl::Status ReadActivation(const Json& value, LayerConfig& config) {
  if (value.is_null()) {
    config.activation = Activation::kLinear;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string name, internal::ReadString(value, "activation"));
  ASSIGN_OR_RETURN(config.activation, ParseActivation(name));
  return absl::OkStatus();
}

absl::Status ReadUseBias(const Json& value, LayerConfig& config) {
  ASSIGN_OR_RETURN(config.use_bias, internal::ReadBool(value, "use_bias"));
  return absl::OkStatus();
}

// groups is inherited from Conv2D; Conv2DTranspose has no grouped form.
absl::Status ReadGroups(const Json& value, LayerConfig&) {
  ASSIGN_OR_RETURN(int64_t groups, internal::ReadInt(value, "groups"));
  if (groups == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("groups ", groups, " is not supported: Conv2DTranspose has groups = 1"));
}

// Added when the layer was built with input_shape=; (batch, H, W, C) with nulls for free sizes.
absl::Status ReadBatchInputShape(const Json& value, LayerConfig&) {
  bool ok = value.is_array() && value.size() == 4;
  for (size_t i = 0; ok && i < value.size(); ++i) {
    const Json& entry = value[i];
    ok = entry.is_null() ||
         (entry.is_number_integer() && !entry.is_boolean() && entry.get<int64_t>() > 0);
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("batch_input_shape must be a rank-4 shape (batch, height, width, channels) "
                   "of positive integers or nulls, got ",
                   JsonText(value)));
}

absl::Status ReadAnyObject(const Json& value, absl::string_view key) {
  if (value.is_object() || value.is_null()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(key, " must be a JSON object, got ", JsonText(value)));
}

absl::Status ReadBuildConfig(const Json& value, LayerConfig&) {
  return ReadAnyObject(value, "build_config");
}

absl::Status ReadOptionalString(const Json& value, absl::string_view key) {
  if (value.is_null()) return absl::OkStatus();
  return internal::ReadString(value, key).status();
}

absl::Status ReadModule(const Json& value, LayerConfig&) {
  return ReadOptionalString(value, "module");
}

absl::Status ReadRegisteredName(const Json& value, LayerConfig&) {
  return ReadOptionalString(value, "registered_name");
}

using FieldReader = absl::Status (*)(const Json& value, LayerConfig& config);

// A key of the get_config() dict: read by `read`, or, for initializers, regularizers and
// constraints, normalised into `object`.
struct Field {
  absl::string_view key;
  FieldReader read = nullptr;
  KerasObject LayerConfig::*object = nullptr;
  KerasObjectKind kind = KerasObjectKind::kInitializer;
};

// Every key Keras' get_config() emits for this layer (TF 2.x, tf-keras, Keras 3).
const Field kFields[] = {
    {"name", ReadName},
    {"trainable", ReadTrainable},
    {"dtype", ReadDtype},
    {"filters", ReadFilters},
    {"kernel_size", ReadKernelSize},
    {"strides", ReadStrides},
    {"padding", ReadPadding},
    {"output_padding", ReadOutputPadding},
    {"data_format", ReadDataFormat},
    {"dilation_rate", ReadDilationRate},
    {"groups", ReadGroups},
    {"activation", ReadActivation},
    {"use_bias", ReadUseBias},
    {"kernel_initializer", nullptr, &LayerConfig::kernel_initializer},
    {"bias_initializer", nullptr, &LayerConfig::bias_initializer},
    {"kernel_regularizer", nullptr, &LayerConfig::kernel_regularizer,
     KerasObjectKind::kRegularizer},
    {"bias_regularizer", nullptr, &LayerConfig::bias_regularizer, KerasObjectKind::kRegularizer},
    {"activity_regularizer", nullptr, &LayerConfig::activity_regularizer,
     KerasObjectKind::kRegularizer},
    {"kernel_constraint", nullptr, &LayerConfig::kernel_constraint, KerasObjectKind::kConstraint},
    {"bias_constraint", nullptr, &LayerConfig::bias_constraint, KerasObjectKind::kConstraint},
    {"batch_input_shape", ReadBatchInputShape},
    {"build_config", ReadBuildConfig},
    {"module", ReadModule},
    {"registered_name", ReadRegisteredName},
};

absl::Status ReadField(const Field& field, const Json& value, LayerConfig& config) {
  if (field.read != nullptr) return field.read(value, config);
  ASSIGN_OR_RETURN(Json normalized, internal::NormalizeKerasObject(value, field.kind, field.key));
  (config.*field.object).json = normalized.dump();
  return absl::OkStatus();
}

// The get_config() dict inside a {"class_name", "config"} wrapper, or `root` itself.
absl::StatusOr<const Json*> LayerDict(const Json& root) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer config must be a JSON object, got ", JsonText(root)));
  }
  auto class_name = root.find("class_name");
  if (class_name == root.end()) return &root;
  if (*class_name != "Conv2DTranspose") {
    return absl::InvalidArgumentError(
        absl::StrCat("class_name ", JsonText(*class_name), " is not \"Conv2DTranspose\""));
  }
  for (const auto& [key, value] : root.items()) {
    if (key != "class_name" && key != "config" && key != "module" && key != "registered_name" &&
        key != "build_config" && key != "name" && key != "inbound_nodes") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown key \"", key, "\" next to class_name Conv2DTranspose"));
    }
  }
  auto config = root.find("config");
  if (config == root.end() || !config->is_object()) {
    return absl::InvalidArgumentError("class_name Conv2DTranspose needs a \"config\" object");
  }
  return &*config;
}

// The marker only Keras 3 writes (see Activation in layer_config.h): the layer's dtype as a
// DTypePolicy object (FloatDTypePolicy in Keras 3.1-3.3). tf-keras also writes "module" and
// "registered_name" keys, and its mixed-precision dtype is {"class_name": "Policy"}, so
// neither of those tells the versions apart.
bool WrittenByKeras3(const Json& dict) {
  auto dtype = dict.find("dtype");
  if (dtype == dict.end() || !dtype->is_object()) return false;
  const Json class_name = dtype->value("class_name", Json());
  return class_name == "DTypePolicy" || class_name == "FloatDTypePolicy";
}

absl::StatusOr<Json> ParseJson(std::string_view text) {
  RETURN_IF_ERROR(
      internal::CheckJsonDepth(absl::string_view(text.data(), text.size()), "layer config"));
  try {
    return Json::parse(text);
  } catch (const Json::exception& error) {
    // Not only parse_error: a number beyond double's range ("1e400") throws out_of_range,
    // which escaped here and terminated the server (found by tests/fuzz/fuzz_layer_config).
    return absl::InvalidArgumentError(
        absl::StrCat("layer config is not valid JSON: ", error.what()));
  }
}

}  // namespace

absl::StatusOr<LayerConfig> LayerConfig::FromJson(std::string_view json) {
  ASSIGN_OR_RETURN(const Json root, ParseJson(json));
  ASSIGN_OR_RETURN(const Json* dict, LayerDict(root));
  LayerConfig config;
  for (const auto& [key, value] : dict->items()) {
    const Field* field = nullptr;
    for (const Field& candidate : kFields) {
      if (candidate.key == key) field = &candidate;
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown Conv2DTranspose argument \"", key, "\""));
    }
    RETURN_IF_ERROR(ReadField(*field, value, config));
  }
  for (absl::string_view required : {"filters", "kernel_size"}) {
    if (!dict->contains(std::string(required))) {
      return absl::InvalidArgumentError(absl::StrCat(required, " is required"));
    }
  }
  if (WrittenByKeras3(*dict)) {
    config.keras_version = KerasVersion::kKeras3;
    // hard_sigmoid is the one spelling whose formula changed in Keras 3.
    if (config.activation == Activation::kHardSigmoid) {
      config.activation = Activation::kHardSigmoidKeras3;
    }
  }
  RETURN_IF_ERROR(config.Validate());
  return config;
}

}  // namespace tconv
