#include "server/grpc/peer_policy.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace tconv::server {
namespace {

// "127.a.b.c" with four decimal octets: the whole 127.0.0.0/8 is loopback.
bool IsLoopbackIpv4(absl::string_view address) {
  std::vector<absl::string_view> octets = absl::StrSplit(address, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (absl::string_view octet : octets) {
    int value = 0;
    if (octet.empty() || octet.size() > 3 || !absl::SimpleAtoi(octet, &value) || value > 255) {
      return false;
    }
    for (char c : octet) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

// `rest` is "ADDRESS:PORT" with a decimal port; returns ADDRESS or "" when malformed.
absl::string_view StripPort(absl::string_view rest) {
  const size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == rest.size()) return {};
  for (char c : rest.substr(colon + 1)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return {};
  }
  return rest.substr(0, colon);
}

}  // namespace

bool IsLocalPeer(absl::string_view peer) {
  if (absl::StartsWith(peer, "unix:") || absl::StartsWith(peer, "unix-abstract:")) return true;
  if (absl::ConsumePrefix(&peer, "ipv4:")) return IsLoopbackIpv4(StripPort(peer));
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    absl::string_view host = StripPort(peer);
    if (!absl::ConsumePrefix(&host, "[") || !absl::ConsumeSuffix(&host, "]")) return false;
    // gRPC spells these in lower case; accept either in case a resolver does not.
    const std::string lower = absl::AsciiStrToLower(host);
    if (lower == "::1" || lower == "0:0:0:0:0:0:0:1") return true;
    absl::string_view mapped = lower;
    return absl::ConsumePrefix(&mapped, "::ffff:") && IsLoopbackIpv4(mapped);
  }
  return false;
}

absl::Status CheckControlPeer(absl::string_view peer, const ControlPeerPolicy& policy) {
  if (policy.allow_remote_control) return absl::OkStatus();
  if (!policy.treat_local_as_remote && IsLocalPeer(peer)) return absl::OkStatus();
  // The peer is not echoed: it is the client's own address and would only lengthen the message.
  return absl::PermissionDeniedError(
      "changing layers is allowed only from this machine when no token is configured; configure "
      "--auth_token_file (and send \"authorization: Bearer <token>\") or start the server with "
      "--allow_remote_control");
}

}  // namespace tconv::server
