// Conversions between tconv.v1.LayerService messages and the core's LayerSpec / LayerInfo.
// Pure functions, tested without a network.
#ifndef TCONV_SERVER_GRPC_LAYER_CODEC_H_
#define TCONV_SERVER_GRPC_LAYER_CODEC_H_

#include "absl/status/statusor.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "tconv/v1/layer_service.pb.h"

namespace tconv::server {

// The request as a LayerSpec. Weights arrive as raw little-endian float32 bytes: INVALID_ARGUMENT
// when a byte count is not a multiple of 4, kernel_shape is not 4 dimensions matching the
// kernel's element count, or a shape/bias comes without a kernel. Batching fields left at 0
// take `defaults`; an unset `batching` leaves the choice to the server.
absl::StatusOr<LayerSpec> DecodeLayerSpec(const tconv::v1::CreateLayerRequest& request,
                                          const BatchingOptions& defaults);

// Everything the server knows about a layer, including its input -> output shape rule.
void EncodeLayer(const LayerInfo& info, tconv::v1::Layer* layer);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_LAYER_CODEC_H_
