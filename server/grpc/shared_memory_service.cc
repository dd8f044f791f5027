// Triton's system shared memory extension over the core's SharedMemoryRegistry, and precise
// UNIMPLEMENTED answers for the CUDA one. Registering makes the server open and map memory by a
// client-chosen key, so it is a kControl call: with no token configured only peers on this
// machine may do it (shared memory is meaningless across hosts anyway, see peer_policy.h).
#include "absl/strings/str_cat.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/status_edge.h"

namespace tconv::server {
namespace {

absl::Status NoRegistry() {
  return absl::UnimplementedError("system shared memory is not enabled on this server");
}

absl::Status NoCuda() {
  return absl::UnimplementedError(
      "CUDA shared memory is not supported: tconv computes on the CPU; register system shared "
      "memory (SystemSharedMemoryRegister) instead");
}

}  // namespace

grpc::ServerUnaryReactor* InferenceService::SystemSharedMemoryStatus(
    CallContext* context, const inference::SystemSharedMemoryStatusRequest* request,
    inference::SystemSharedMemoryStatusResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  if (options_.shared_memory == nullptr) return FinishNow(context, NoRegistry());
  absl::StatusOr<std::vector<SharedMemoryRegionInfo>> regions =
      options_.shared_memory->List(request->name());
  if (regions.ok()) {
    for (const SharedMemoryRegionInfo& info : *regions) {
      auto& status = (*response->mutable_regions())[info.name];
      status.set_name(info.name);
      status.set_key(info.key);
      status.set_offset(info.offset);
      status.set_byte_size(info.byte_size);
    }
  }
  return FinishNow(context, regions.status());
}

grpc::ServerUnaryReactor* InferenceService::SystemSharedMemoryRegister(
    CallContext* context, const inference::SystemSharedMemoryRegisterRequest* request,
    inference::SystemSharedMemoryRegisterResponse*) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kControl)) {
    return refused;
  }
  if (options_.shared_memory == nullptr) return FinishNow(context, NoRegistry());
  return FinishNow(context,
                   options_.shared_memory->Register(SharedMemoryRegionInfo{
                       request->name(), request->key(), request->offset(), request->byte_size()}));
}

grpc::ServerUnaryReactor* InferenceService::SystemSharedMemoryUnregister(
    CallContext* context, const inference::SystemSharedMemoryUnregisterRequest* request,
    inference::SystemSharedMemoryUnregisterResponse*) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kControl)) {
    return refused;
  }
  if (options_.shared_memory == nullptr) return FinishNow(context, NoRegistry());
  return FinishNow(context, options_.shared_memory->Unregister(request->name()));
}

grpc::ServerUnaryReactor* InferenceService::CudaSharedMemoryStatus(
    CallContext* context, const inference::CudaSharedMemoryStatusRequest*,
    inference::CudaSharedMemoryStatusResponse*) {
  return FinishNow(context, NoCuda());
}

grpc::ServerUnaryReactor* InferenceService::CudaSharedMemoryRegister(
    CallContext* context, const inference::CudaSharedMemoryRegisterRequest*,
    inference::CudaSharedMemoryRegisterResponse*) {
  return FinishNow(context, NoCuda());
}

grpc::ServerUnaryReactor* InferenceService::CudaSharedMemoryUnregister(
    CallContext* context, const inference::CudaSharedMemoryUnregisterRequest*,
    inference::CudaSharedMemoryUnregisterResponse*) {
  return FinishNow(context, NoCuda());
}

}  // namespace tconv::server
