#include "tconv/kernel/conv2d_transpose.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "activations.h"
#include "fast_conv.h"
#include "parallel.h"
#include "reference.h"
#include "tconv/kernel/status_macros.h"

namespace tconv {
namespace {

// Product of `sizes` (all >= 1), or nullopt when it exceeds `limit` (checked before each
// multiplication, so it never overflows).
std::optional<int64_t> BoundedProduct(absl::Span<const int64_t> sizes, int64_t limit) {
  int64_t product = 1;
  for (int64_t size : sizes) {
    if (size > limit / product) return std::nullopt;
    product *= size;
  }
  return product;
}

std::string ShapeString(const Shape4& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status CheckFinite(const std::vector<float>& values, const char* name) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, "[", i, "] is ", values[i], "; weights must be finite"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWeights(const LayerConfig& config, int64_t in_channels,
                          const LayerWeights& weights) {
  const Pair& k = config.kernel_size;
  const std::optional<int64_t> expected =
      BoundedProduct({k[0], k[1], config.filters, in_channels}, LayerLimits::kMaxKernelElements);
  if (!expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel of ", k[0], "*", k[1], "*", config.filters, "*", in_channels,
                     " elements exceeds the limit of ", LayerLimits::kMaxKernelElements));
  }
  if (static_cast<int64_t>(weights.kernel.size()) != *expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel has ", weights.kernel.size(), " elements, expected ", k[0], "*", k[1],
                     "*", config.filters, "*", in_channels, " = ", *expected,
                     " (layout kh, kw, filters, in_channels)"));
  }
  const int64_t bias_expected = config.use_bias ? config.filters : 0;
  if (static_cast<int64_t>(weights.bias.size()) != bias_expected) {
    return absl::InvalidArgumentError(
        config.use_bias ? absl::StrCat("bias has ", weights.bias.size(),
                                       " elements, expected filters = ", config.filters)
                        : absl::StrCat("bias has ", weights.bias.size(),
                                       " elements, expected none because use_bias is false"));
  }
  RETURN_IF_ERROR(CheckFinite(weights.kernel, "kernel"));
  return CheckFinite(weights.bias, "bias");
}

}  // namespace

Conv2DTranspose::Conv2DTranspose(LayerConfig config, int64_t in_channels, LayerWeights weights,
                                 std::unique_ptr<const internal::FastConv2DTranspose> fast)
    : config_(std::move(config)),
      in_channels_(in_channels),
      weights_(std::move(weights)),
      fast_(std::move(fast)) {}

Conv2DTranspose::~Conv2DTranspose() = default;

absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> Conv2DTranspose::Create(
    LayerConfig config, int64_t in_channels, LayerWeights weights) {
  RETURN_IF_ERROR(config.Validate());
  if (in_channels < 1 || in_channels > LayerLimits::kMaxInChannels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "in_channels must be between 1 and ", LayerLimits::kMaxInChannels, ", got ", in_channels));
  }
  RETURN_IF_ERROR(CheckWeights(config, in_channels, weights));
  auto fast = internal::FastConv2DTranspose::Create(config, in_channels, weights);
  return std::shared_ptr<const Conv2DTranspose>(
      new Conv2DTranspose(std::move(config), in_channels, std::move(weights), std::move(fast)));
}

int64_t Conv2DTranspose::packed_weight_bytes() const { return fast_->packed_bytes(); }

absl::StatusOr<Shape4> Conv2DTranspose::OutputShape(const Shape4& input_shape) const {
  const bool channels_last = config_.data_format == DataFormat::kChannelsLast;
  const int64_t batch = input_shape[0];
  const int64_t height = input_shape[channels_last ? 1 : 2];
  const int64_t width = input_shape[channels_last ? 2 : 3];
  const int64_t channels = input_shape[channels_last ? 3 : 1];
  if (batch < 1 || height < 1 || width < 1 || channels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input shape ", ShapeString(input_shape), " (",
                     std::string(DataFormatName(config_.data_format)),
                     ") must have batch, height, width and channels >= 1"));
  }
  if (channels != in_channels_) {
    return absl::InvalidArgumentError(
        absl::StrCat("input has ", channels, " channels, layer expects ", in_channels_));
  }
  if (height > LayerLimits::kMaxSpatial || width > LayerLimits::kMaxSpatial) {
    return absl::InvalidArgumentError(absl::StrCat("input height and width must be at most ",
                                                   LayerLimits::kMaxSpatial, ", got ", height, "x",
                                                   width));
  }
  if (!BoundedProduct(input_shape, LayerLimits::kMaxTensorElements)) {
    return absl::InvalidArgumentError(absl::StrCat("input shape ", ShapeString(input_shape),
                                                   " has more than ",
                                                   LayerLimits::kMaxTensorElements, " elements"));
  }
  const int64_t out_h = config_.OutputLength(height, 0);
  const int64_t out_w = config_.OutputLength(width, 1);
  const Shape4 output = channels_last ? Shape4{batch, out_h, out_w, config_.filters}
                                      : Shape4{batch, config_.filters, out_h, out_w};
  if (out_h > LayerLimits::kMaxSpatial || out_w > LayerLimits::kMaxSpatial ||
      !BoundedProduct(output, LayerLimits::kMaxTensorElements)) {
    return absl::InvalidArgumentError(
        absl::StrCat("output shape ", ShapeString(output), " for input ", ShapeString(input_shape),
                     " exceeds the limits (height and width <= ", LayerLimits::kMaxSpatial,
                     ", at most ", LayerLimits::kMaxTensorElements, " elements)"));
  }
  return output;
}

absl::Status Conv2DTranspose::Run(absl::Span<const float> input, const Shape4& input_shape,
                                  absl::Span<float> output, const ComputePool& pool,
                                  Implementation implementation) const {
  ASSIGN_OR_RETURN(const Shape4 output_shape, OutputShape(input_shape));
  const int64_t input_size = *BoundedProduct(input_shape, LayerLimits::kMaxTensorElements);
  const int64_t output_size = *BoundedProduct(output_shape, LayerLimits::kMaxTensorElements);
  if (static_cast<int64_t>(input.size()) != input_size) {
    return absl::InvalidArgumentError(absl::StrCat("input has ", input.size(), " elements, shape ",
                                                   ShapeString(input_shape), " needs ",
                                                   input_size));
  }
  if (static_cast<int64_t>(output.size()) != output_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("output buffer has ", output.size(), " elements, output shape ",
                     ShapeString(output_shape), " needs ", output_size));
  }
  const bool channels_last = config_.data_format == DataFormat::kChannelsLast;
  const int64_t batch = input_shape[0];
  const int64_t in_h = channels_last ? input_shape[1] : input_shape[2];
  const int64_t in_w = channels_last ? input_shape[2] : input_shape[3];
  if (implementation == Implementation::kReference) {
    internal::ReferenceConv2DTranspose(config_, weights_, input.data(), input_shape, output.data());
  } else if (channels_last) {
    fast_->Run(input.data(), batch, in_h, in_w, output.data(), pool);
  } else {
    // NCHW through NHWC scratch, per chunk of examples or band of rows
    // (fast_tiled_channels_first.cc).
    fast_->RunChannelsFirst(input.data(), batch, in_h, in_w, output.data(), pool);
  }
  if (implementation == Implementation::kFast && fast_->AppliesActivation()) {
    return absl::OkStatus();
  }
  const int64_t row_length = output_shape[3];  // the last axis, whatever the data_format
  internal::ApplyActivation(config_.activation, output.data(), output_size / row_length, row_length,
                            fast_->kernels().vector_activations, pool);
  return absl::OkStatus();
}

}  // namespace tconv
