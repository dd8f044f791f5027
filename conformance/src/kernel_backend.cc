#include "conformance/kernel_backend.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/status/status_macros.h"

namespace tconv::tool {
namespace {

// Error cases may omit the input; zeros are synthesised only up to this many elements.
constexpr int64_t kMaxSynthesizedInput = int64_t{1} << 24;

int64_t Elements(const Shape4& shape) { return shape[0] * shape[1] * shape[2] * shape[3]; }

}  // namespace

absl::StatusOr<ConformanceOutput> KernelBackend::Run(const ConformanceCase& c) {
  ASSIGN_OR_RETURN(LayerConfig config, LayerConfig::FromJson(c.config_json));
  if (c.input_shape.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("input must have rank 4, got rank ", c.input_shape.size()));
  }
  const Shape4 input_shape = {c.input_shape[0], c.input_shape[1], c.input_shape[2],
                              c.input_shape[3]};
  const int64_t in_channels = input_shape[config.data_format == DataFormat::kChannelsLast ? 3 : 1];
  LayerWeights weights;
  if (c.kernel) {
    weights = {*c.kernel, c.bias};
  } else {
    ASSIGN_OR_RETURN(weights, InitializeWeights(config, in_channels, /*seed=*/0));
  }
  ASSIGN_OR_RETURN(auto layer,
                   Conv2DTranspose::Create(std::move(config), in_channels, std::move(weights)));
  // OutputShape validates the input shape (and bounds it) before anything is allocated.
  ASSIGN_OR_RETURN(const Shape4 output_shape, layer->OutputShape(input_shape));
  std::vector<float> zeros;
  if (!c.input) {
    if (Elements(input_shape) > kMaxSynthesizedInput) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the case has no input data and its input has too many elements to synthesise (",
          Elements(input_shape), ")"));
    }
    zeros.assign(Elements(input_shape), 0.0f);
  }
  ConformanceOutput output;
  output.shape.assign(output_shape.begin(), output_shape.end());
  output.values.resize(Elements(output_shape));
  RETURN_IF_ERROR(layer->Run(c.input ? *c.input : zeros, input_shape, absl::MakeSpan(output.values),
                             pool_, implementation_));
  return output;
}

}  // namespace tconv::tool
