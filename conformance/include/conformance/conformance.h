// The conformance runner: reads conformance files, runs each case on a backend, judges the
// result against the file's expectation and reports. Backends decide where a case runs (the
// local kernel here; a server elsewhere) so every mode shares the judging and the report.
#ifndef TCONV_CONFORMANCE_CONFORMANCE_H_
#define TCONV_CONFORMANCE_CONFORMANCE_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conformance/conformance_case.h"

namespace tconv::tool {

// The published tolerance: |got - want| <= kAbsTolerance + kRelTolerance * |want|, and a
// non-finite value never passes.
inline constexpr double kAbsTolerance = 1e-4;
inline constexpr double kRelTolerance = 1e-4;
bool WithinTolerance(float got, float want);

struct ConformanceOutput {
  std::vector<int64_t> shape;  // in the layer's data_format
  std::vector<float> values;   // flat, row-major
};

class ConformanceBackend {
 public:
  virtual ~ConformanceBackend() = default;
  // Configures the case's layer with its weights and runs its input. A refusal (at
  // configuration or at run time) is returned as the status, with the code the backend got.
  virtual absl::StatusOr<ConformanceOutput> Run(const ConformanceCase& c) = 0;
};

struct Verdict {
  bool passed = false;
  std::string failure;  // why it failed, for people; empty when passed
};

// Golden cases pass when the shape matches and every element is within tolerance; error
// cases pass only when refused with INVALID_ARGUMENT.
Verdict Judge(const ConformanceCase& c, const absl::StatusOr<ConformanceOutput>& result);

struct ConformanceTotals {
  int64_t passed = 0;
  int64_t failed = 0;
};

// Runs every non-empty line of every file on `backend`. Each failure is printed to `out` as
// "FAIL <name>: <reason>"; a line that cannot be parsed or a file that cannot be read counts
// as a failure too. Ends with the line "N passed, M failed".
ConformanceTotals RunConformance(const std::vector<std::string>& files, ConformanceBackend& backend,
                                 std::ostream& out);

}  // namespace tconv::tool

#endif  // TCONV_CONFORMANCE_CONFORMANCE_H_
