// The transport edge of the server's errors: the one place where an absl::Status from the core
// becomes the grpc::Status a client sees.
#ifndef TCONV_SERVER_GRPC_STATUS_EDGE_H_
#define TCONV_SERVER_GRPC_STATUS_EDGE_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace tconv::server {

// No status message leaves the server longer than this: messages travel in the trailing
// metadata, and one that echoes a huge client string would fail the call on the client's
// metadata limit (RESOURCE_EXHAUSTED) instead of carrying the real error.
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// Same code, same message (cut to kMaxStatusMessageBytes): both enumerations are the
// canonical gRPC codes, one to one.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The status as text inside a message ("INVALID_ARGUMENT: expected ..."), for answers that carry
// an error in their body, like ModelStreamInferResponse.error_message. Cut as ToGrpcStatus cuts.
std::string ToErrorMessage(const absl::Status& status);

// For handlers that answer at once: finishes the call's default reactor with `status`.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_STATUS_EDGE_H_
