// Conversions between the Open Inference Protocol messages and the core's types, with every
// protocol rule a request must satisfy (datatype, shape, byte size, tensor names, versions).
// Pure functions: the services stay thin and these are tested without a network.
#ifndef TCONV_SERVER_GRPC_OIP_CODEC_H_
#define TCONV_SERVER_GRPC_OIP_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/core/shared_memory_registry.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::server {

// tconv's mapping of the protocol (shared spec "Mapping for tconv"): one model = one layer, one
// FP32 input "input", one FP32 output "output".
inline constexpr absl::string_view kInputName = "input";
inline constexpr absl::string_view kOutputName = "output";
inline constexpr absl::string_view kDatatype = "FP32";
inline constexpr absl::string_view kPlatform = "keras_conv2dtranspose";
// The request's single input tensor as the core's request (shape in the layer's data_format;
// deadline and cancellation are the caller's to fill). INVALID_ARGUMENT, saying what was
// expected, for: not exactly one input, another input name, a datatype other than FP32, a
// shape that is not 4 positive dimensions, a raw byte size other than product(shape) * 4,
// raw and typed contents together, typed contents of the wrong type or count, or a requested
// output other than "output". The version asked for is the manager's to check. An input whose
// parameters name a shared memory region is read from `shared_memory` (shared_memory_codec.h).
// Raw input bytes are borrowed, not copied (InferenceRequest::input_view): `request` must
// outlive the decoded request's callback, unchanged.
absl::StatusOr<InferenceRequest> DecodeInferRequest(
    const inference::ModelInferRequest& request,
    const SharedMemoryRegistry* shared_memory = nullptr);

// An OutputBuffer for InferenceRequest::output_buffer: the response's raw_output_contents
// entry, sized for the values, so that they are computed (or copied once) right where they
// are serialized from. `response` must outlive the request's callback.
OutputBuffer RawOutputBuffer(inference::ModelInferResponse* response);

// Fills the response with the result in raw form (raw_output_contents), the version that
// computed it, and echoes the id; when result.output_in_buffer the values are already there
// (RawOutputBuffer). Without `raw_output` the output carries only its metadata (it was
// written to shared memory) and its raw_output_contents entry is empty, as Triton answers.
void EncodeInferResponse(const inference::ModelInferRequest& request, const InferenceResult& result,
                         inference::ModelInferResponse* response, bool raw_output = true);

// Input/output tensor metadata of a layer, -1 for the dimensions that vary per request, and
// its served version (the only one that answers).
void EncodeModelMetadata(const LayerInfo& info, inference::ModelMetadataResponse* response);

// Every repository entry (only ready ones when `ready_only`) with state and reason.
void EncodeRepositoryIndex(const std::vector<RepositoryEntry>& entries, bool ready_only,
                           inference::RepositoryIndexResponse* response);

// A RepositoryModelLoad that carries a layer: parameters "config" (string, Keras JSON) and
// optionally "file:kernel.npy" / "file:bias.npy" (bytes, float32 .npy) or "in_channels" and
// "seed" (int64) for initializer-drawn weights. Creates or replaces (replace = true).
// INVALID_ARGUMENT for an unknown parameter or one of the wrong type.
absl::StatusOr<LayerSpec> DecodeRepositoryLoad(
    const inference::RepositoryModelLoadRequest& request);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_OIP_CODEC_H_
