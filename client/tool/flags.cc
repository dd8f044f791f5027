#include "flags.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tconv::tool {

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args,
                                   absl::Span<const FlagSpec> specs) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      flags.positional_.insert(flags.positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      flags.positional_.push_back(arg);
      continue;
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? equals : equals - 2);
    auto spec =
        std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
    if (spec == specs.end()) return absl::InvalidArgumentError("unknown flag --" + name);
    if (flags.values_.count(name)) return absl::InvalidArgumentError("repeated flag --" + name);
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (spec->boolean) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    flags.values_[name] = value;
  }
  return flags;
}

std::optional<std::string> Flags::Get(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<int64_t> Flags::GetInt(std::string_view name, int64_t fallback, int64_t min,
                                      int64_t max) const {
  const std::optional<std::string> text = Get(name);
  if (!text) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", std::string(name),
                                                   " must be an integer in [", min, ", ", max,
                                                   "], got \"", *text, "\""));
  }
  return value;
}

absl::StatusOr<bool> Flags::GetBool(std::string_view name, bool fallback) const {
  const std::optional<std::string> text = Get(name);
  if (!text) return fallback;
  const std::string value = absl::AsciiStrToLower(*text);
  if (value == "true" || value == "1" || value == "yes") return true;
  if (value == "false" || value == "0" || value == "no") return false;
  return absl::InvalidArgumentError(absl::StrCat("--", std::string(name),
                                                 " must be true or false (or given alone for "
                                                 "true), got \"",
                                                 *text, "\""));
}

absl::StatusOr<absl::Duration> Flags::GetDuration(std::string_view name, absl::Duration fallback,
                                                  absl::Duration max) const {
  const std::optional<std::string> text = Get(name);
  if (!text) return fallback;
  absl::Duration duration = -absl::Seconds(1);
  double seconds = 0;
  if (absl::SimpleAtod(*text, &seconds)) {
    if (std::isfinite(seconds)) duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(*text, &duration)) {
    duration = -absl::Seconds(1);
  }
  if (duration <= absl::ZeroDuration() || duration > max || duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", std::string(name), " must be a positive duration",
        max == absl::InfiniteDuration() ? "" : absl::StrCat(" up to ", absl::FormatDuration(max)),
        " such as 30s, 500ms or 2m (a plain number means seconds), got \"", *text, "\""));
  }
  return duration;
}

}  // namespace tconv::tool
