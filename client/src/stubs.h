// Internals shared by the client's source files: the generated stubs and the per-call setup.
#ifndef TCONV_CLIENT_SRC_STUBS_H_
#define TCONV_CLIENT_SRC_STUBS_H_

#include <memory>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "inference/grpc_service.grpc.pb.h"
#include "tconv/client/client.h"
#include "tconv/v1/layer_service.grpc.pb.h"

namespace tconv::client {

struct Client::Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<tconv::v1::LayerService::Stub> layers;
  std::unique_ptr<inference::GRPCInferenceService::Stub> inference;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

// Sets the call's deadline and the metadata of `options` on a fresh context.
void PrepareContext(const Options& options, const CallOptions& call, grpc::ClientContext& context);

// One unary call: `invoke(&context, &response)` performs it. The status conversion happens
// here (FromGrpcStatus), so every method reports errors the same way.
template <typename Response, typename Invoke>
absl::StatusOr<Response> UnaryCall(const Options& options, const CallOptions& call, Invoke invoke) {
  grpc::ClientContext context;
  PrepareContext(options, call, context);
  Response response;
  const grpc::Status status = invoke(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace tconv::client

#endif  // TCONV_CLIENT_SRC_STUBS_H_
