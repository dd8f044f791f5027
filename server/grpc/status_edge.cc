#include "server/grpc/status_edge.h"

#include <string>

namespace tconv::server {

// absl::StatusCode and grpc::StatusCode both are the canonical codes 0..16 with the same
// numbers, and absl::Status never holds another value (it stores unknown ones as UNKNOWN).
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace tconv::server
