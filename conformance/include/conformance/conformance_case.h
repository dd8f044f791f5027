// One line of a conformance file (format: tests/conformance/README-style JSON lines, see
// conformance_case.cc): a Keras Conv2DTranspose configuration, its weights and input, and
// either the expected output or the expectation that Keras/TF refuses it.
#ifndef TCONV_CONFORMANCE_CONFORMANCE_CASE_H_
#define TCONV_CONFORMANCE_CONFORMANCE_CASE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tconv::tool {

// Where Keras/TF refuses an error case ("expect_error"); kNone for a golden case.
enum class ExpectedError { kNone, kConstruct, kCall };

struct ConformanceCase {
  std::string name;
  std::string config_json;  // the "config" object as JSON text, for LayerConfig::FromJson
  std::vector<int64_t> input_shape;
  // Flat, row-major, in the layer's data_format. nullopt when the line carries no data
  // (error cases refused at construction).
  std::optional<std::vector<float>> input;
  std::optional<std::vector<float>> kernel;  // Keras layout (kh, kw, filters, in_channels)
  std::vector<float> bias;                   // empty when null or absent
  ExpectedError expect_error = ExpectedError::kNone;
  std::string reason;  // why Keras refuses an error case; informational
  // Error cases only: words of which the refusal's message must hold at least one (the
  // arguments at fault); empty when the file does not say ("error_mentions").
  std::vector<std::string> error_mentions;
  // Golden cases only: the expected output, flat, in the layer's data_format.
  std::vector<int64_t> output_shape;
  std::vector<float> output;
};

// Parses one JSON line. INVALID_ARGUMENT (with the field at fault) for bad JSON, a missing or
// mistyped field, or a buffer whose length does not match its shape. Never throws.
absl::StatusOr<ConformanceCase> ParseConformanceCase(std::string_view line);

}  // namespace tconv::tool

#endif  // TCONV_CONFORMANCE_CONFORMANCE_CASE_H_
