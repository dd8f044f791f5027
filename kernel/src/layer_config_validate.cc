// LayerConfig::Validate: the construction-time refusals of spec §1, §3.3, §3.4 and §11, and
// LayerLimits. Every message names the argument and the offending value.
#include <string>

#include "absl/strings/str_cat.h"
#include "keras_objects.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/kernel/status_macros.h"

namespace tconv {
namespace {

constexpr const char* kAxisNames[2] = {"height", "width"};

std::string PairText(const Pair& pair) { return absl::StrCat("(", pair[0], ", ", pair[1], ")"); }

absl::Status CheckRange(absl::string_view argument, int64_t value, int64_t max) {
  if (value > 0 && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(argument, " ", value, value <= 0 ? " must be positive" : " exceeds the limit ",
                   value <= 0 ? "" : absl::StrCat(max)));
}

absl::Status CheckPairRange(absl::string_view argument, const Pair& pair, int64_t max) {
  for (int64_t value : pair) {
    if (value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, " ", PairText(pair), " must be positive on every axis"));
    }
    if (value > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, " ", PairText(pair), " exceeds the per-axis limit ", max));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSizes(const LayerConfig& config) {
  RETURN_IF_ERROR(CheckRange("filters", config.filters, LayerLimits::kMaxFilters));
  RETURN_IF_ERROR(CheckPairRange("kernel_size", config.kernel_size, LayerLimits::kMaxKernelSize));
  RETURN_IF_ERROR(CheckPairRange("strides", config.strides, LayerLimits::kMaxStride));
  RETURN_IF_ERROR(CheckPairRange("dilation_rate", config.dilation_rate, LayerLimits::kMaxDilation));
  // Each factor is bounded above, so the product cannot overflow; in_channels >= 1 adds to it.
  const int64_t elements = config.kernel_size[0] * config.kernel_size[1] * config.filters;
  if (elements > LayerLimits::kMaxKernelElements) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel_size ", PairText(config.kernel_size), " with filters ", config.filters,
                     " gives more than ", LayerLimits::kMaxKernelElements, " kernel elements"));
  }
  return absl::OkStatus();
}

absl::Status CheckOutputPadding(const LayerConfig& config) {
  if (!config.output_padding.has_value()) return absl::OkStatus();
  const Pair& op = *config.output_padding;
  for (int axis = 0; axis < 2; ++axis) {
    if (op[axis] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("output_padding ", PairText(op), " must be non-negative"));
    }
    if (op[axis] >= config.strides[axis]) {
      return absl::InvalidArgumentError(absl::StrCat("output_padding ", PairText(op),
                                                     " must be smaller than strides ",
                                                     PairText(config.strides), " on every axis"));
    }
  }
  return absl::OkStatus();
}

// §3.4: TF 2.x's dilated path ignores strides and asserts equal rates; Keras 3 computes
// unequal rates (a dilated kernel per axis) and refuses only strides with dilation.
absl::Status CheckDilation(const LayerConfig& config) {
  const Pair& s = config.strides;
  const Pair& d = config.dilation_rate;
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) {
    return absl::InvalidArgumentError(absl::StrCat("strides ", PairText(s),
                                                   " > 1 cannot be combined with dilation_rate ",
                                                   PairText(d), " > 1"));
  }
  if (d[0] != d[1] && config.keras_version == KerasVersion::kKeras2) {
    return absl::InvalidArgumentError(
        absl::StrCat("dilation_rate ", PairText(d),
                     " must be equal on both axes in a Keras 2 config (TF 2.x Keras asserts it; "
                     "Keras 3, whose configs carry a DTypePolicy dtype, does not)"));
  }
  return absl::OkStatus();
}

// §3.3: Conv2DBackpropInput's size check fails exactly for same + even effective kernel +
// output_padding 0 on an axis, whatever the input size, so it is refused at configuration.
absl::Status CheckSameEvenKernel(const LayerConfig& config) {
  if (config.padding != Padding::kSame || !config.output_padding.has_value()) {
    return absl::OkStatus();
  }
  const Pair kd = config.EffectiveKernel();
  for (int axis = 0; axis < 2; ++axis) {
    if (kd[axis] % 2 == 0 && (*config.output_padding)[axis] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("padding \"same\" with output_padding ", PairText(*config.output_padding),
                       " and an even effective kernel on the ", kAxisNames[axis],
                       " axis (kernel_size ", PairText(config.kernel_size), ", dilation_rate ",
                       PairText(config.dilation_rate), " give ", PairText(kd),
                       ") cannot run in TensorFlow: use output_padding >= 1 or "
                       "null on that axis"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEnums(const LayerConfig& config) {
  if (config.padding != Padding::kValid && config.padding != Padding::kSame) {
    return absl::InvalidArgumentError(
        absl::StrCat("padding ", static_cast<int>(config.padding), " is not valid or same"));
  }
  if (config.data_format != DataFormat::kChannelsLast &&
      config.data_format != DataFormat::kChannelsFirst) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data_format ", static_cast<int>(config.data_format), " is not a data format"));
  }
  return ParseActivation(ActivationName(config.activation)).status();
}

absl::Status CheckObjects(const LayerConfig& config) {
  using internal::KerasObjectKind;
  const struct {
    const KerasObject* object;
    KerasObjectKind kind;
    const char* argument;
  } objects[] = {
      {&config.kernel_initializer, KerasObjectKind::kInitializer, "kernel_initializer"},
      {&config.bias_initializer, KerasObjectKind::kInitializer, "bias_initializer"},
      {&config.kernel_regularizer, KerasObjectKind::kRegularizer, "kernel_regularizer"},
      {&config.bias_regularizer, KerasObjectKind::kRegularizer, "bias_regularizer"},
      {&config.activity_regularizer, KerasObjectKind::kRegularizer, "activity_regularizer"},
      {&config.kernel_constraint, KerasObjectKind::kConstraint, "kernel_constraint"},
      {&config.bias_constraint, KerasObjectKind::kConstraint, "bias_constraint"},
  };
  for (const auto& entry : objects) {
    RETURN_IF_ERROR(internal::ParseKerasObject(*entry.object, entry.kind, entry.argument).status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LayerConfig::Validate() const {
  RETURN_IF_ERROR(CheckEnums(*this));
  RETURN_IF_ERROR(CheckSizes(*this));
  RETURN_IF_ERROR(CheckOutputPadding(*this));
  RETURN_IF_ERROR(CheckDilation(*this));
  RETURN_IF_ERROR(CheckSameEvenKernel(*this));
  return CheckObjects(*this);
}

}  // namespace tconv
