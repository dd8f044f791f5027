#include "conformance/conformance.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <ostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tconv::tool {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// How far outside the tolerance an element is: > 1 fails; infinite for non-finite values.
double ErrorRatio(float got, float want) {
  if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
  return std::fabs(double{got} - want) / (kAbsTolerance + kRelTolerance * std::fabs(want));
}

Verdict JudgeGolden(const ConformanceCase& c, const ConformanceOutput& output) {
  if (output.shape != c.output_shape) {
    return {false, absl::StrCat("output shape ", ShapeString(output.shape), ", want ",
                                ShapeString(c.output_shape))};
  }
  if (output.values.size() != c.output.size()) {
    return {false,
            absl::StrCat("output has ", output.values.size(), " values, want ", c.output.size())};
  }
  size_t worst = 0;
  size_t first = 0;
  double worst_ratio = -1;
  int64_t bad = 0;
  for (size_t i = 0; i < c.output.size(); ++i) {
    const double ratio = ErrorRatio(output.values[i], c.output[i]);
    if (!WithinTolerance(output.values[i], c.output[i]) && bad++ == 0) first = i;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (bad == 0) return {true, ""};
  return {false, absl::StrCat(bad, " of ", c.output.size(),
                              " elements outside tolerance; first element ", first, ": got ",
                              output.values[first], ", want ", c.output[first], "; worst element ",
                              worst, ": got ", output.values[worst], ", want ", c.output[worst])};
}

const char* ExpectedWhere(ExpectedError expected) {
  return expected == ExpectedError::kConstruct ? "at construction" : "when called";
}

}  // namespace

bool WithinTolerance(float got, float want) {
  return std::isfinite(got) && std::isfinite(want) &&
         std::fabs(double{got} - want) <= kAbsTolerance + kRelTolerance * std::fabs(want);
}

Verdict Judge(const ConformanceCase& c, const absl::StatusOr<ConformanceOutput>& result) {
  if (c.expect_error == ExpectedError::kNone) {
    if (!result.ok()) return {false, absl::StrCat("refused: ", result.status().ToString())};
    return JudgeGolden(c, *result);
  }
  if (result.ok()) {
    return {false, absl::StrCat("Keras refuses it ", ExpectedWhere(c.expect_error), " (", c.reason,
                                "), but it ran and returned shape ", ShapeString(result->shape))};
  }
  if (result.status().code() != absl::StatusCode::kInvalidArgument) {
    return {false,
            absl::StrCat("refused with ", result.status().ToString(), ", want INVALID_ARGUMENT")};
  }
  if (!c.error_mentions.empty() &&
      std::none_of(c.error_mentions.begin(), c.error_mentions.end(), [&](const std::string& word) {
        return absl::StrContains(result.status().message(), word);
      })) {
    return {false,
            absl::StrCat("refused with \"", result.status().message(),
                         "\", which names none of: ", absl::StrJoin(c.error_mentions, ", "))};
  }
  return {true, ""};
}

ConformanceTotals RunConformance(const std::vector<std::string>& files, ConformanceBackend& backend,
                                 std::ostream& out) {
  ConformanceTotals totals;
  for (const std::string& file : files) {
    std::ifstream in(file);
    if (!in) {
      out << "FAIL " << file << ": cannot open the file\n";
      ++totals.failed;
      continue;
    }
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      absl::StatusOr<ConformanceCase> c = ParseConformanceCase(line);
      if (!c.ok()) {
        out << "FAIL " << file << ":" << number << ": malformed case: " << c.status().message()
            << "\n";
        ++totals.failed;
        continue;
      }
      const Verdict verdict = Judge(*c, backend.Run(*c));
      if (verdict.passed) {
        ++totals.passed;
      } else {
        out << "FAIL " << c->name << ": " << verdict.failure << "\n";
        ++totals.failed;
      }
    }
    if (in.bad()) {
      out << "FAIL " << file << ": read error\n";
      ++totals.failed;
    }
  }
  out << totals.passed << " passed, " << totals.failed << " failed" << std::endl;
  return totals;
}

}  // namespace tconv::tool
