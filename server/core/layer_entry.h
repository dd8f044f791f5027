// From what a client sends or a folder holds to the entry the registry serves: the weights of a
// LayerSpec, the weight checksum, whether a reloaded folder changed, and the entry itself (the
// layer plus its batcher). Internal to the LayerManager.
#ifndef TCONV_SERVER_CORE_LAYER_ENTRY_H_
#define TCONV_SERVER_CORE_LAYER_ENTRY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/batcher.h"
#include "server/core/inference_statistics.h"
#include "server/core/layer_manager.h"
#include "server/core/layer_registry.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::server {

// `status` with `prefix` before its message (OK stays OK).
absl::Status Prefixed(const absl::Status& status, const std::string& prefix);

// NOT_FOUND "layer 'name' not found".
absl::Status NotServed(const std::string& name);

// FNV-1a 64 over the kernel's then the bias' float32 bytes (little-endian, as stored).
uint64_t WeightChecksum(const LayerWeights& weights);

// Checks the spec's weights against the config and takes them (setting spec.in_channels from
// the kernel), or draws them from the initializers. Messages name the LayerSpec field.
absl::StatusOr<LayerWeights> WeightsFromSpec(const LayerConfig& config, LayerSpec& spec);

// Whether a folder read again holds what `served` serves: then a reload keeps the version.
bool SameContent(const ServedLayer& served, const Conv2DTranspose& loaded,
                 const BatchingOptions& batching);

// The served entry of `layer` at `version`: its batcher (on `executor`, with `batching`)
// reports to `statistics`. Cheap: the layer is already built.
absl::StatusOr<std::shared_ptr<const ServedLayer>> BuildEntry(
    const std::string& name, std::shared_ptr<const Conv2DTranspose> layer,
    const BatchingOptions& batching, absl::Time created, int64_t version,
    const std::shared_ptr<BatchExecutor>& executor,
    std::shared_ptr<InferenceStatistics::Version> statistics);

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_LAYER_ENTRY_H_
