// The one rule for layer names, applied wherever a name enters the server: CreateLayer,
// GetLayer, DeleteLayer, inference, model metadata, repository load/unload, and folder names
// read from disk. Names are also repository folder names, so the rule keeps them short, free
// of path separators and never hidden (temp folders start with '.').
#ifndef TCONV_REPOSITORY_LAYER_NAME_H_
#define TCONV_REPOSITORY_LAYER_NAME_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tconv::server {

inline constexpr size_t kMaxLayerNameLength = 128;
// The rule as users read it in error messages and docs.
inline constexpr char kLayerNameRule[] =
    "1 to 128 characters of [A-Za-z0-9_.-], starting with a letter or digit";

// OK, or INVALID_ARGUMENT stating the rule and quoting `name` (cut, see QuoteName).
absl::Status ValidateLayerName(absl::string_view name);

// `text` in single quotes for a message, cut to its first 64 bytes plus "... (N bytes)" when
// longer, so a client-supplied string can never blow up a status message.
std::string QuoteName(absl::string_view text);

}  // namespace tconv::server

#endif  // TCONV_REPOSITORY_LAYER_NAME_H_
