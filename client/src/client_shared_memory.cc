// Triton's system shared memory extension: register/unregister regions and ModelInfer with the
// input and output referenced by the "shared_memory_*" tensor parameters.
#include <string>

#include "stubs.h"
#include "tconv/client/client.h"
#include "tconv/status/status_macros.h"

namespace tconv::client {
namespace {

using Parameters = google::protobuf::Map<std::string, inference::InferParameter>;

void SetRef(const SharedMemoryRef& ref, Parameters& parameters) {
  parameters["shared_memory_region"].set_string_param(ref.region);
  parameters["shared_memory_byte_size"].set_int64_param(static_cast<int64_t>(ref.byte_size));
  if (ref.offset != 0) {
    parameters["shared_memory_offset"].set_int64_param(static_cast<int64_t>(ref.offset));
  }
}

}  // namespace

absl::Status Client::RegisterSystemSharedMemory(std::string_view name, std::string_view key,
                                                uint64_t offset, uint64_t byte_size,
                                                const CallOptions& call) {
  inference::SystemSharedMemoryRegisterRequest request;
  request.set_name(std::string(name));
  request.set_key(std::string(key));
  request.set_offset(offset);
  request.set_byte_size(byte_size);
  return UnaryCall<inference::SystemSharedMemoryRegisterResponse>(
             options_, call,
             [&](grpc::ClientContext* context, auto* out) {
               return stubs_->inference->SystemSharedMemoryRegister(context, request, out);
             })
      .status();
}

absl::Status Client::UnregisterSystemSharedMemory(std::string_view name, const CallOptions& call) {
  inference::SystemSharedMemoryUnregisterRequest request;
  request.set_name(std::string(name));
  return UnaryCall<inference::SystemSharedMemoryUnregisterResponse>(
             options_, call,
             [&](grpc::ClientContext* context, auto* out) {
               return stubs_->inference->SystemSharedMemoryUnregister(context, request, out);
             })
      .status();
}

absl::StatusOr<std::vector<int64_t>> Client::InferSharedMemory(std::string_view layer,
                                                               absl::Span<const int64_t> shape,
                                                               const SharedMemoryRef& input,
                                                               const SharedMemoryRef& output,
                                                               const CallOptions& call) {
  inference::ModelInferRequest request;
  request.set_model_name(std::string(layer));
  auto* tensor = request.add_inputs();
  tensor->set_name("input");
  tensor->set_datatype("FP32");
  for (int64_t dim : shape) tensor->add_shape(dim);
  SetRef(input, *tensor->mutable_parameters());
  auto* requested = request.add_outputs();
  requested->set_name("output");
  SetRef(output, *requested->mutable_parameters());
  ASSIGN_OR_RETURN(const inference::ModelInferResponse response,
                   UnaryCall<inference::ModelInferResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ModelInfer(context, request, out);
                       }));
  if (response.outputs_size() != 1) {
    return absl::InternalError("the server answered without the output's metadata");
  }
  return std::vector<int64_t>(response.outputs(0).shape().begin(),
                              response.outputs(0).shape().end());
}

}  // namespace tconv::client
