// The transport edge of the server's errors: the one place where an absl::Status from the core
// becomes the grpc::Status a client sees.
#ifndef TCONV_SERVER_GRPC_STATUS_EDGE_H_
#define TCONV_SERVER_GRPC_STATUS_EDGE_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace tconv::server {

// Same code, same message: both enumerations are the canonical gRPC codes, one to one.
grpc::Status ToGrpcStatus(const absl::Status& status);

// For handlers that answer at once: finishes the call's default reactor with `status`.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_STATUS_EDGE_H_
