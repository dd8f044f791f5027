#include "server/grpc/auth.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/grpc/status_edge.h"

namespace tconv::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// Compares every byte whatever the first difference, so the time taken does not reveal how
// much of a guess was right (only its length, which is not secret enough to matter).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

bool IsTokenChar(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

absl::StatusOr<Authorizer> Authorizer::Create(Options options) {
  if (options.token.empty()) return absl::InvalidArgumentError("the auth token is empty");
  if (!std::all_of(options.token.begin(), options.token.end(), IsTokenChar)) {
    return absl::InvalidArgumentError(
        "the auth token must be printable ASCII without spaces (it travels in gRPC metadata)");
  }
  return Authorizer(std::move(options));
}

absl::Status Authorizer::Check(const grpc::ServerContextBase& context, Scope scope) const {
  if (scope == Scope::kRead && !options_.protect_reads) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("this call needs \"authorization: Bearer <token>\" metadata");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kBearer)) {
    return absl::UnauthenticatedError("the authorization metadata is not \"Bearer <token>\"");
  }
  if (!ConstantTimeEquals(value.substr(kBearer.size()), options_.token)) {
    return absl::PermissionDeniedError("the bearer token is not accepted");
  }
  return absl::OkStatus();
}

absl::Status Authorize(const Access& access, const grpc::ServerContextBase& context,
                       Authorizer::Scope scope) {
  if (access.authorizer != nullptr) return access.authorizer->Check(context, scope);
  if (scope == Authorizer::Scope::kRead) return absl::OkStatus();
  return CheckControlPeer(context.peer(), access.control_peers);
}

grpc::ServerUnaryReactor* FinishIfUnauthorized(const Access& access,
                                               grpc::CallbackServerContext* context,
                                               Authorizer::Scope scope) {
  absl::Status denied = Authorize(access, *context, scope);
  if (denied.ok()) return nullptr;
  return FinishNow(context, denied);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read auth token file \"", path, "\""));
  std::ostringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty() || !std::all_of(token.begin(), token.end(), IsTokenChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "auth token file \"", path, "\" must hold one token of printable ASCII without spaces"));
  }
  return token;
}

}  // namespace tconv::server
