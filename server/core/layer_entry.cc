#include "layer_entry.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/repository/layer_name.h"

namespace tconv::server {

absl::Status Prefixed(const absl::Status& status, const std::string& prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

absl::Status NotServed(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("layer ", QuoteName(name), " not found"));
}

uint64_t WeightChecksum(const LayerWeights& weights) {
  uint64_t hash = 14695981039346656037ull;
  for (const std::vector<float>* values : {&weights.kernel, &weights.bias}) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(values->data());
    for (size_t i = 0; i < values->size() * sizeof(float); ++i) {
      hash = (hash ^ bytes[i]) * 1099511628211ull;
    }
  }
  return hash;
}

absl::StatusOr<LayerWeights> WeightsFromSpec(const LayerConfig& config, LayerSpec& spec) {
  if (spec.kernel.empty()) {
    if (!spec.kernel_shape.empty() || !spec.bias.empty()) {
      return absl::InvalidArgumentError(
          "kernel is empty but kernel_shape or bias is given: send the kernel too, or neither "
          "(to draw weights from the initializers)");
    }
    if (spec.in_channels < 1 || spec.in_channels > LayerLimits::kMaxInChannels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "in_channels must be in [1, ", LayerLimits::kMaxInChannels,
          "] when no kernel is given (weights are drawn for it), got ", spec.in_channels));
    }
    return InitializeWeights(config, spec.in_channels, spec.seed);
  }
  const std::vector<int64_t>& shape = spec.kernel_shape;
  const std::string shape_text = absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
  if (shape.size() != 4 || shape[0] != config.kernel_size[0] || shape[1] != config.kernel_size[1] ||
      shape[2] != config.filters || shape[3] < 1 || shape[3] > LayerLimits::kMaxInChannels) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel_shape ", shape_text,
                     " does not fit the config: expected (kh, kw, filters, "
                     "in_channels) = (",
                     config.kernel_size[0], ", ", config.kernel_size[1], ", ", config.filters,
                     ", C) with 1 <= C <= ", LayerLimits::kMaxInChannels));
  }
  if (static_cast<int64_t>(spec.kernel.size()) != shape[0] * shape[1] * shape[2] * shape[3]) {
    return absl::InvalidArgumentError(absl::StrCat("kernel has ", spec.kernel.size(),
                                                   " values, kernel_shape ", shape_text, " needs ",
                                                   shape[0] * shape[1] * shape[2] * shape[3]));
  }
  if (spec.in_channels != 0 && spec.in_channels != shape[3]) {
    return absl::InvalidArgumentError(absl::StrCat("in_channels ", spec.in_channels,
                                                   " does not match kernel_shape ", shape_text));
  }
  spec.in_channels = shape[3];
  return LayerWeights{std::move(spec.kernel), std::move(spec.bias)};
}

bool SameContent(const ServedLayer& served, const Conv2DTranspose& loaded,
                 const BatchingOptions& batching) {
  const BatchingOptions& was = served.info.batching;
  return served.layer->config().ToJson() == loaded.config().ToJson() &&
         served.layer->in_channels() == loaded.in_channels() &&
         served.info.weight_checksum == WeightChecksum(loaded.weights()) &&
         was.max_batch_size == batching.max_batch_size &&
         was.batch_timeout == batching.batch_timeout &&
         was.max_queue_size == batching.max_queue_size;
}

absl::StatusOr<std::shared_ptr<const ServedLayer>> BuildEntry(
    const std::string& name, std::shared_ptr<const Conv2DTranspose> layer,
    const BatchingOptions& batching, absl::Time created, int64_t version,
    const std::shared_ptr<BatchExecutor>& executor,
    std::shared_ptr<InferenceStatistics::Version> statistics) {
  auto entry = std::make_shared<ServedLayer>();
  entry->statistics = std::move(statistics);
  ASSIGN_OR_RETURN(entry->batcher,
                   Batcher::Create(batching, name, layer, executor, entry->statistics.get()));
  const LayerConfig& config = layer->config();
  const int64_t in_channels = layer->in_channels();
  entry->info = {name,
                 config,
                 in_channels,
                 {config.kernel_size[0], config.kernel_size[1], config.filters, in_channels},
                 WeightChecksum(layer->weights()),
                 created,
                 batching,
                 version};
  entry->layer = std::move(layer);
  return std::shared_ptr<const ServedLayer>(std::move(entry));
}

}  // namespace tconv::server
