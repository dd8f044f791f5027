#include "conformance/conformance_case.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "tconv/status/status_macros.h"

namespace tconv::tool {
namespace {

using Json = nlohmann::json;

absl::Status FieldError(const char* field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("field \"", field, "\" ", what));
}

absl::StatusOr<const Json*> Field(const Json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return FieldError(field, "is missing");
  return &*it;
}

absl::StatusOr<std::vector<int64_t>> ReadShape(const Json& object, const char* field) {
  ASSIGN_OR_RETURN(const Json* value, Field(object, field));
  if (!value->is_array()) return FieldError(field, "must be an array of integers");
  std::vector<int64_t> shape;
  for (const Json& size : *value) {
    if (!size.is_number_integer() || size.get<int64_t>() < 0) {
      return FieldError(field, absl::StrCat("must hold integers >= 0, got ", size.dump()));
    }
    shape.push_back(size.get<int64_t>());
  }
  return shape;
}

absl::StatusOr<std::vector<float>> ReadFloats(const Json& value, const char* field) {
  if (!value.is_array()) return FieldError(field, "must be an array of numbers");
  std::vector<float> values;
  values.reserve(value.size());
  for (const Json& number : value) {
    if (!number.is_number()) {
      return FieldError(field, absl::StrCat("must hold numbers, got ", number.dump()));
    }
    values.push_back(number.get<float>());
  }
  return values;
}

// The number of elements of `shape`, or an error when it does not match `size`.
absl::Status CheckLength(const std::vector<int64_t>& shape, size_t size, const char* field,
                         const char* shape_field) {
  int64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && elements > std::numeric_limits<int64_t>::max() / dim) {
      return FieldError(shape_field, "has too many elements");
    }
    elements *= dim;
  }
  if (elements != static_cast<int64_t>(size)) {
    return FieldError(
        field, absl::StrCat("has ", size, " numbers but \"", shape_field, "\" needs ", elements));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExpectedError> ReadExpectedError(const Json& line) {
  auto it = line.find("expect_error");
  if (it == line.end() || it->is_null()) return ExpectedError::kNone;
  if (*it == "construct") return ExpectedError::kConstruct;
  if (*it == "call") return ExpectedError::kCall;
  return FieldError("expect_error",
                    absl::StrCat("must be \"construct\" or \"call\", got ", it->dump()));
}

// "input", "kernel", "bias": required for golden cases, optional for error cases.
absl::Status ReadData(const Json& line, ConformanceCase& c) {
  const bool golden = c.expect_error == ExpectedError::kNone;
  for (const char* field : {"input", "kernel"}) {
    auto it = line.find(field);
    if (it == line.end()) {
      if (golden) return FieldError(field, "is missing");
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<float> values, ReadFloats(*it, field));
    (std::string_view(field) == "input" ? c.input : c.kernel) = std::move(values);
  }
  if (c.input) RETURN_IF_ERROR(CheckLength(c.input_shape, c.input->size(), "input", "input_shape"));
  auto bias = line.find("bias");
  if (bias == line.end() && golden) return FieldError("bias", "is missing (null when unused)");
  if (bias != line.end() && !bias->is_null()) {
    ASSIGN_OR_RETURN(c.bias, ReadFloats(*bias, "bias"));
  }
  if (!golden) return absl::OkStatus();
  ASSIGN_OR_RETURN(c.output_shape, ReadShape(line, "output_shape"));
  ASSIGN_OR_RETURN(const Json* output, Field(line, "output"));
  ASSIGN_OR_RETURN(c.output, ReadFloats(*output, "output"));
  return CheckLength(c.output_shape, c.output.size(), "output", "output_shape");
}

}  // namespace

absl::StatusOr<ConformanceCase> ParseConformanceCase(std::string_view text) {
  const Json line = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (line.is_discarded()) return absl::InvalidArgumentError("line is not valid JSON");
  if (!line.is_object()) return absl::InvalidArgumentError("line is not a JSON object");
  ConformanceCase c;
  ASSIGN_OR_RETURN(const Json* name, Field(line, "name"));
  if (!name->is_string()) return FieldError("name", "must be a string");
  c.name = name->get<std::string>();
  ASSIGN_OR_RETURN(const Json* config, Field(line, "config"));
  if (!config->is_object()) return FieldError("config", "must be an object");
  c.config_json = config->dump();
  ASSIGN_OR_RETURN(c.input_shape, ReadShape(line, "input_shape"));
  ASSIGN_OR_RETURN(c.expect_error, ReadExpectedError(line));
  if (auto reason = line.find("reason"); reason != line.end() && reason->is_string()) {
    c.reason = reason->get<std::string>();
  }
  if (auto mentions = line.find("error_mentions"); mentions != line.end()) {
    if (!mentions->is_array()) return FieldError("error_mentions", "must be an array of strings");
    for (const Json& word : *mentions) {
      if (!word.is_string()) return FieldError("error_mentions", "must be an array of strings");
      c.error_mentions.push_back(word.get<std::string>());
    }
  }
  RETURN_IF_ERROR(ReadData(line, c));
  return c;
}

}  // namespace tconv::tool
