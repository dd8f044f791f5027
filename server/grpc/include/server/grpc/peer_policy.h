// Who may change the layers when no token is configured. The server binds 0.0.0.0 by default, so
// without this anyone who can reach the port could create, replace and delete layers. Mutations
// (Scope::kControl in auth.h) are allowed from the machine itself only, unless the operator
// configures a token (--auth_token_file) or opts in with --allow_remote_control.
#ifndef TCONV_SERVER_GRPC_PEER_POLICY_H_
#define TCONV_SERVER_GRPC_PEER_POLICY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tconv::server {

// True for a peer string as grpc::ServerContext::peer() gives it that names this machine:
// "ipv4:127.x.y.z:PORT", "ipv6:[::1]:PORT", "ipv6:[::ffff:127.x.y.z]:PORT" and "unix:..." (a unix
// socket is only reachable locally). Anything else, including what cannot be parsed, is remote.
bool IsLocalPeer(absl::string_view peer);

struct ControlPeerPolicy {
  bool allow_remote_control = false;  // --allow_remote_control: every peer may mutate
  // Tests only: treat local peers as remote, so the refusal can be seen over loopback.
  bool treat_local_as_remote = false;
};

// OK when `peer` may call a mutation without a token; PERMISSION_DENIED saying how to allow it.
absl::Status CheckControlPeer(absl::string_view peer, const ControlPeerPolicy& policy);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_PEER_POLICY_H_
