// Tensors that live in a registered shared memory region (Triton's system shared memory
// extension): a tensor's parameters "shared_memory_region" (string), "shared_memory_byte_size"
// (int64) and optionally "shared_memory_offset" (int64, from the region's start) name where its
// bytes are. Inputs are read from there; an output bound there is written there and travels in
// the response without contents (only name, datatype and shape).
#ifndef TCONV_SERVER_GRPC_SHARED_MEMORY_CODEC_H_
#define TCONV_SERVER_GRPC_SHARED_MEMORY_CODEC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "google/protobuf/map.h"
#include "inference/grpc_service.pb.h"
#include "server/core/batcher.h"
#include "server/core/shared_memory_registry.h"

namespace tconv::server {

using TensorParameters = google::protobuf::Map<std::string, inference::InferParameter>;

// Where a tensor's bytes are; `region` keeps them mapped while the request uses them, even if
// the region is unregistered meanwhile.
struct SharedMemoryTensor {
  std::shared_ptr<const SharedMemoryRegion> region;
  absl::Span<char> bytes;
};

// True when the parameters name a region (the tensor is in shared memory).
bool UsesSharedMemory(const TensorParameters& parameters);

// The request's input, read from its region. INVALID_ARGUMENT when raw or typed contents come
// too, when a parameter has the wrong type or a negative value, when shared_memory_byte_size is
// missing or is not `elements` * 4, or when offset + byte size leave the region; NOT_FOUND when
// the region is not registered; UNIMPLEMENTED when `registry` is null.
absl::StatusOr<std::vector<float>> ReadSharedMemoryInput(
    const inference::ModelInferRequest& request, const SharedMemoryRegistry* registry,
    int64_t elements);

// The output's region when the request's requested output names one, nullopt otherwise; the
// same refusals as the input's, the size checked against `output_shape` (FP32): at least that
// much (a larger declared size is allowed, as Triton does; only the answer's bytes are written).
absl::StatusOr<std::optional<SharedMemoryTensor>> BindSharedMemoryOutput(
    const inference::ModelInferRequest& request, const SharedMemoryRegistry* registry,
    const Shape4& output_shape);

// An OutputBuffer (InferenceRequest::output_buffer) that has the kernel write the answer
// straight into the bound output region: no buffer of the server's, no copy. Empty (no buffer:
// EncodeInferAnswer copies) when the region's bytes are not aligned for float — the client
// chose the offset. Keeps the region mapped until the request is answered. Should the answer
// not have the bound size after all (the layer was replaced meanwhile), its values go to memory
// of the buffer's own and EncodeInferAnswer refuses them.
OutputBuffer SharedMemoryOutputBuffer(const SharedMemoryTensor& output);

// EncodeInferResponse, with the output written to `output` instead of raw_output_contents when
// bound (unless the kernel wrote it there already: result.output_in_buffer). FAILED_PRECONDITION
// when the result no longer has the bound size (the layer was replaced between the check and the
// run).
absl::Status EncodeInferAnswer(const inference::ModelInferRequest& request,
                               const InferenceResult& result,
                               const std::optional<SharedMemoryTensor>& output,
                               inference::ModelInferResponse* response);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_SHARED_MEMORY_CODEC_H_
