// LayerConfig: names, output-size rule (spec §3.1) and get_config()-style serialisation.
// FromJson lives in layer_config_json.cc, Validate in layer_config_validate.cc.
#include "tconv/kernel/layer_config.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "keras_objects.h"

namespace tconv {
namespace {

struct ActivationEntry {
  Activation activation;
  std::string_view name;
};

// The TF 2.x names in the order of the enum, then Keras 3's; a name listed twice is an alias
// (the first entry is the one ToJson writes).
constexpr std::array<ActivationEntry, 31> kActivations = {{
    {Activation::kLinear, "linear"},
    {Activation::kRelu, "relu"},
    {Activation::kElu, "elu"},
    {Activation::kSelu, "selu"},
    {Activation::kSoftmax, "softmax"},
    {Activation::kSoftplus, "softplus"},
    {Activation::kSoftsign, "softsign"},
    {Activation::kTanh, "tanh"},
    {Activation::kSigmoid, "sigmoid"},
    {Activation::kHardSigmoid, "hard_sigmoid"},
    {Activation::kExponential, "exponential"},
    {Activation::kSwish, "swish"},
    {Activation::kGelu, "gelu"},
    {Activation::kHardSigmoidKeras3, "hard_sigmoid"},
    {Activation::kRelu6, "relu6"},
    {Activation::kLeakyRelu, "leaky_relu"},
    {Activation::kHardSilu, "hard_silu"},
    {Activation::kMish, "mish"},
    {Activation::kLogSigmoid, "log_sigmoid"},
    {Activation::kHardTanh, "hard_tanh"},
    {Activation::kCelu, "celu"},
    {Activation::kTanhShrink, "tanh_shrink"},
    {Activation::kSoftShrink, "soft_shrink"},
    {Activation::kHardShrink, "hard_shrink"},
    {Activation::kSparsePlus, "sparse_plus"},
    {Activation::kSparseSigmoid, "sparse_sigmoid"},
    {Activation::kSquareplus, "squareplus"},
    {Activation::kLogSoftmax, "log_softmax"},
    {Activation::kSparsemax, "sparsemax"},
    {Activation::kSwish, "silu"},           // Keras 3's name for swish
    {Activation::kHardSilu, "hard_swish"},  // Keras 3's alias of hard_silu
}};

// Keras 3 names tconv refuses: glu halves the last axis (not an output of the layer's shape),
// threshold has required arguments a string cannot give.
constexpr std::array<std::string_view, 2> kUnsupportedKeras3 = {"glu", "threshold"};

nlohmann::ordered_json PairJson(const Pair& pair) {
  return nlohmann::ordered_json::array({pair[0], pair[1]});
}

// Parses a stored KerasObject for output; a config that fails Validate() may print as null.
nlohmann::ordered_json ObjectJson(const KerasObject& object) {
  auto value = nlohmann::ordered_json::parse(object.json, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? nlohmann::ordered_json(nullptr) : value;
}

}  // namespace

std::string_view PaddingName(Padding padding) {
  return padding == Padding::kSame ? "same" : "valid";
}

std::string_view DataFormatName(DataFormat format) {
  return format == DataFormat::kChannelsFirst ? "channels_first" : "channels_last";
}

std::string_view ActivationName(Activation activation) {
  for (const ActivationEntry& entry : kActivations) {
    if (entry.activation == activation) return entry.name;
  }
  return "unknown";
}

std::string_view KerasVersionName(KerasVersion version) {
  return version == KerasVersion::kKeras3 ? "3" : "2";
}

bool IsKeras3Activation(Activation activation) {
  return static_cast<int>(activation) >= static_cast<int>(Activation::kHardSigmoidKeras3);
}

absl::StatusOr<Activation> ParseActivation(std::string_view name, bool keras3) {
  if (name == "hard_sigmoid") {
    return keras3 ? Activation::kHardSigmoidKeras3 : Activation::kHardSigmoid;
  }
  for (const ActivationEntry& entry : kActivations) {
    if (entry.name == name) return entry.activation;
  }
  for (std::string_view unsupported : kUnsupportedKeras3) {
    if (unsupported == name) {
      return absl::InvalidArgumentError(
          absl::StrCat("activation \"", absl::string_view(name.data(), name.size()),
                       "\" (Keras 3) is not supported: tconv computes elementwise and "
                       "channel-row activations only"));
    }
  }
  std::vector<absl::string_view> names;
  for (const ActivationEntry& entry : kActivations) {
    if (entry.activation == Activation::kHardSigmoidKeras3) continue;  // listed once
    names.emplace_back(entry.name.data(), entry.name.size());
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "activation \"", absl::string_view(name.data(), name.size()),
      "\" is not a Keras activation; expected one of ", absl::StrJoin(names, ", "), " or null"));
}

Pair LayerConfig::EffectiveKernel() const {
  return {(kernel_size[0] - 1) * dilation_rate[0] + 1, (kernel_size[1] - 1) * dilation_rate[1] + 1};
}

int64_t LayerConfig::OutputLength(int64_t n, int axis) const {
  const int64_t kd = EffectiveKernel()[axis];
  const int64_t s = strides[axis];
  if (!output_padding.has_value()) {
    return padding == Padding::kValid ? n * s + std::max<int64_t>(kd - s, 0) : n * s;
  }
  const int64_t pad = padding == Padding::kSame ? kd / 2 : 0;
  return (n - 1) * s + kd - 2 * pad + (*output_padding)[axis];
}

bool operator==(const LayerConfig& a, const LayerConfig& b) {
  return a.name == b.name && a.filters == b.filters && a.kernel_size == b.kernel_size &&
         a.strides == b.strides && a.padding == b.padding && a.output_padding == b.output_padding &&
         a.data_format == b.data_format && a.dilation_rate == b.dilation_rate &&
         a.activation == b.activation && a.use_bias == b.use_bias &&
         a.kernel_initializer == b.kernel_initializer && a.bias_initializer == b.bias_initializer &&
         a.kernel_regularizer == b.kernel_regularizer && a.bias_regularizer == b.bias_regularizer &&
         a.activity_regularizer == b.activity_regularizer &&
         a.kernel_constraint == b.kernel_constraint && a.bias_constraint == b.bias_constraint &&
         a.keras_version == b.keras_version;
}

// The key order of TF 2.x get_config() (spec §9). The layer always computes in float32.
std::string LayerConfig::ToJson() const {
  nlohmann::ordered_json out;
  out["name"] = name;
  out["trainable"] = true;
  // A Keras 3 config (and Keras 3's hard_sigmoid) needs the Keras 3 marker to be read back with
  // its meaning; a Keras 2 config keeps its plain dtype whatever its activation, so that
  // FromJson(ToJson()) gives the same config (fuzz_layer_config checks it).
  if (keras_version == KerasVersion::kKeras3 || activation == Activation::kHardSigmoidKeras3) {
    out["dtype"] = {{"module", "keras"},
                    {"class_name", "DTypePolicy"},
                    {"config", {{"name", "float32"}}},
                    {"registered_name", nullptr}};
  } else {
    out["dtype"] = "float32";
  }
  out["filters"] = filters;
  out["kernel_size"] = PairJson(kernel_size);
  out["strides"] = PairJson(strides);
  out["padding"] = PaddingName(padding);
  out["data_format"] = DataFormatName(data_format);
  out["dilation_rate"] = PairJson(dilation_rate);
  out["groups"] = 1;
  out["activation"] = ActivationName(activation);
  out["use_bias"] = use_bias;
  out["kernel_initializer"] = ObjectJson(kernel_initializer);
  out["bias_initializer"] = ObjectJson(bias_initializer);
  out["kernel_regularizer"] = ObjectJson(kernel_regularizer);
  out["bias_regularizer"] = ObjectJson(bias_regularizer);
  out["activity_regularizer"] = ObjectJson(activity_regularizer);
  out["kernel_constraint"] = ObjectJson(kernel_constraint);
  out["bias_constraint"] = ObjectJson(bias_constraint);
  out["output_padding"] =
      output_padding.has_value() ? PairJson(*output_padding) : nlohmann::ordered_json(nullptr);
  return out.dump();
}

}  // namespace tconv
