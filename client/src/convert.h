// Conversions between the client's types and the protocol messages.
#ifndef TCONV_CLIENT_SRC_CONVERT_H_
#define TCONV_CLIENT_SRC_CONVERT_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "inference/grpc_service.pb.h"
#include "tconv/client/client.h"
#include "tconv/v1/layer_service.pb.h"

namespace tconv::client::internal {

// INVALID_ARGUMENT when the spec's buffers cannot be sent (more than 2^31 bytes).
absl::StatusOr<tconv::v1::CreateLayerRequest> ToCreateLayerRequest(const LayerSpec& spec);
LayerInfo FromLayer(const tconv::v1::Layer& layer);

// A ModelInfer request with one raw FP32 input "input". INVALID_ARGUMENT when `shape` has a
// negative dimension or its element count differs from input.size(); the server checks the rest.
absl::StatusOr<inference::ModelInferRequest> ToInferRequest(std::string_view layer,
                                                            absl::Span<const float> input,
                                                            absl::Span<const int64_t> shape);
// The output tensor of a ModelInfer response, raw or typed FP32. INTERNAL when the server's
// answer is malformed (no output, wrong datatype, byte size that does not match the shape).
absl::StatusOr<Tensor> FromInferResponse(const inference::ModelInferResponse& response);

}  // namespace tconv::client::internal

#endif  // TCONV_CLIENT_SRC_CONVERT_H_
