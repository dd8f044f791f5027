// Command-line flags of one subcommand: "--name=value", "--name value" or "--name" for a
// boolean, plus positional arguments. Only the flags a subcommand declares are accepted.
#ifndef TCONV_CLIENT_TOOL_FLAGS_H_
#define TCONV_CLIENT_TOOL_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace tconv::tool {

struct FlagSpec {
  std::string_view name;  // without the leading "--"
  bool boolean = false;   // takes no value ("--name" alone means true)
};

class Flags {
 public:
  // INVALID_ARGUMENT for an undeclared flag, a missing value or a repeated flag. "--" ends
  // the flags; everything after it is positional.
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& args,
                                     absl::Span<const FlagSpec> specs);

  bool Has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  std::optional<std::string> Get(std::string_view name) const;
  // The flag as an integer in [min, max], `fallback` when absent; INVALID_ARGUMENT otherwise.
  absl::StatusOr<int64_t> GetInt(std::string_view name, int64_t fallback, int64_t min,
                                 int64_t max) const;
  // A boolean flag: "--name" alone or "--name=true|1|yes" is true, "--name=false|0|no" false,
  // `fallback` when absent; INVALID_ARGUMENT for another value. The one place booleans are
  // read, so that "--progress=false" means false everywhere.
  absl::StatusOr<bool> GetBool(std::string_view name, bool fallback) const;
  // A duration: "30s", "500ms", "2m", "1h30m" or a number of seconds ("2.5"), positive and at
  // most `max`; `fallback` when absent; INVALID_ARGUMENT naming the flag otherwise. The one
  // place durations are read.
  absl::StatusOr<absl::Duration> GetDuration(std::string_view name, absl::Duration fallback,
                                             absl::Duration max = absl::InfiniteDuration()) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_FLAGS_H_
