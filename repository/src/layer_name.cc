#include "tconv/repository/layer_name.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tconv::server {
namespace {

constexpr size_t kQuotedBytes = 64;

}  // namespace

absl::Status ValidateLayerName(absl::string_view name) {
  const auto valid_char = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  if (name.empty() || name.size() > kMaxLayerNameLength ||
      !absl::ascii_isalnum(static_cast<unsigned char>(name[0])) ||
      !std::all_of(name.begin(), name.end(), valid_char)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer name ", QuoteName(name), " is not a valid layer name: expected ", kLayerNameRule));
  }
  return absl::OkStatus();
}

std::string QuoteName(absl::string_view text) {
  if (text.size() <= kQuotedBytes) return absl::StrCat("'", text, "'");
  return absl::StrCat("'", text.substr(0, kQuotedBytes), "...' (", text.size(), " bytes)");
}

}  // namespace tconv::server
