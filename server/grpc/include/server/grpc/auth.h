// Bearer-token authorization of the server's RPCs. A call presents "authorization: Bearer
// <token>" metadata; handlers call Authorizer::Check first and finish at once with its error, so
// a rejected call never reaches the LayerManager and changes nothing.
//
// Which RPCs need the token (kControl always, kRead only with protect_reads):
//   kControl: LayerService CreateLayer / DeleteLayer, OIP RepositoryModelLoad / Unload.
//   kRead:    ModelInfer, ModelMetadata, ModelReady, ServerMetadata, RepositoryIndex,
//             LayerService GetLayer / ListLayers (they reveal what metadata reveals).
//   Without a token, kControl is allowed from local peers only unless --allow_remote_control.
//   never:    grpc.health.v1.Health, ServerLive, ServerReady (probes), reflection.
#ifndef TCONV_SERVER_GRPC_AUTH_H_
#define TCONV_SERVER_GRPC_AUTH_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/grpc/peer_policy.h"

namespace tconv::server {

class Authorizer {
 public:
  enum class Scope { kControl, kRead };
  struct Options {
    std::string token;  // required, non-empty printable ASCII without spaces
    // Also require the token on inference and the read-only RPCs (kRead).
    bool protect_reads = false;
  };
  // INVALID_ARGUMENT for an empty token or one that cannot travel in gRPC metadata.
  static absl::StatusOr<Authorizer> Create(Options options);

  // OK when the call may proceed. UNAUTHENTICATED when the call carries no bearer token,
  // PERMISSION_DENIED when it carries another token (compared in constant time).
  absl::Status Check(const grpc::ServerContextBase& context, Scope scope) const;

 private:
  explicit Authorizer(Options options) : options_(std::move(options)) {}
  Options options_;
};

// What a handler checks before it does anything.
struct Access {
  // Null when no token is configured: then reads are open and mutations (kControl) are allowed
  // from the peers `control_peers` admits (by default this machine only, see peer_policy.h).
  const Authorizer* authorizer = nullptr;
  ControlPeerPolicy control_peers;
};
absl::Status Authorize(const Access& access, const grpc::ServerContextBase& context,
                       Authorizer::Scope scope);
// The first statement of a unary handler:
//   if (auto* refused = FinishIfUnauthorized(options_.access, context, scope)) return refused;
// Finishes the call with Authorize's refusal and returns its reactor, or returns null when
// the call may go on.
grpc::ServerUnaryReactor* FinishIfUnauthorized(const Access& access,
                                               grpc::CallbackServerContext* context,
                                               Authorizer::Scope scope);

// The token in `path`, without surrounding whitespace (a trailing newline is common).
// NOT_FOUND when the file cannot be read, INVALID_ARGUMENT when it holds no usable token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_AUTH_H_
