#include "server/grpc/status_edge.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tconv::server {
namespace {

// Cuts at a UTF-8 character boundary so the client never sees half a character.
std::string Bounded(absl::string_view message) {
  if (message.size() <= kMaxStatusMessageBytes) return std::string(message);
  constexpr absl::string_view kCut = "... (message cut)";
  size_t keep = kMaxStatusMessageBytes - kCut.size();
  while (keep > 0 && (static_cast<unsigned char>(message[keep]) & 0xC0) == 0x80) --keep;
  return absl::StrCat(message.substr(0, keep), kCut);
}

}  // namespace

// absl::StatusCode and grpc::StatusCode both are the canonical codes 0..16 with the same
// numbers, and absl::Status never holds another value (it stores unknown ones as UNKNOWN).
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), Bounded(status.message()));
}

std::string ToErrorMessage(const absl::Status& status) {
  if (status.ok()) return "";
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", Bounded(status.message()));
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace tconv::server
