// The typed JSON readers and the nesting guard declared in keras_objects.h.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "keras_objects.h"

namespace tconv::internal {

constexpr int kMaxJsonDepth = 64;

absl::Status CheckJsonDepth(absl::string_view text, absl::string_view what) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " is nested deeper than ", kMaxJsonDepth, " levels"));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return absl::OkStatus();
}

std::string JsonText(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

absl::StatusOr<int64_t> ReadInt(const Json& value, absl::string_view argument) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()}) {
    return static_cast<int64_t>(value.get<uint64_t>());
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::trunc(number) == number && std::abs(number) <= 9007199254740992.0) {
      return static_cast<int64_t>(number);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(argument, " must be an integer, got ", JsonText(value)));
}

absl::StatusOr<Pair> ReadIntOrPair(const Json& value, absl::string_view argument) {
  if (value.is_array()) {
    if (value.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          argument, " must be an integer or a list of 2 integers, got ", JsonText(value)));
    }
    Pair pair;
    for (int axis = 0; axis < 2; ++axis) {
      auto entry = ReadInt(value[axis], argument);
      if (!entry.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            argument, " must be an integer or a list of 2 integers, got ", JsonText(value)));
      }
      pair[axis] = *entry;
    }
    return pair;
  }
  auto single = ReadInt(value, argument);
  if (!single.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        argument, " must be an integer or a list of 2 integers, got ", JsonText(value)));
  }
  return Pair{*single, *single};
}

absl::StatusOr<double> ReadNumber(const Json& value, absl::string_view argument) {
  if (value.is_number() && std::isfinite(value.get<double>())) return value.get<double>();
  return absl::InvalidArgumentError(
      absl::StrCat(argument, " must be a finite number, got ", JsonText(value)));
}

absl::StatusOr<std::string> ReadString(const Json& value, absl::string_view argument) {
  if (value.is_string()) return value.get<std::string>();
  return absl::InvalidArgumentError(
      absl::StrCat(argument, " must be a string, got ", JsonText(value)));
}

absl::StatusOr<bool> ReadBool(const Json& value, absl::string_view argument) {
  if (value.is_boolean()) return value.get<bool>();
  return absl::InvalidArgumentError(
      absl::StrCat(argument, " must be true or false, got ", JsonText(value)));
}

}  // namespace tconv::internal
