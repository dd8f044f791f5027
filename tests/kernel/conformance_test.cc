// The published golden and refusal cases (tests/conformance/*.jsonl, copied from the shared
// conformance suite) through both implementations and several thread counts, plus the
// conformance runner's own judging, parsing and reporting.
#include "conformance/conformance.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "conformance/conformance_case.h"
#include "conformance/kernel_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace tconv::tool {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kDir = TCONV_TEST_DATA_DIR "/conformance/";
const std::string kGolden = kDir + "conv2d_transpose_cases.jsonl";
const std::string kErrors = kDir + "conv2d_transpose_errors.jsonl";
// Made by the real Keras 3 and tf-keras (tests/keras/make_cases.py), configs as they write them.
const std::string kKeras = kDir + "keras3_cases.jsonl";

std::vector<ConformanceCase> ReadCases(const std::string& file) {
  std::vector<ConformanceCase> cases;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    auto c = ParseConformanceCase(line);
    EXPECT_TRUE(c.ok()) << file << ": " << c.status();
    if (c.ok()) cases.push_back(*std::move(c));
  }
  return cases;
}

struct Mode {
  const char* name;
  Implementation implementation;
  int threads;
};

std::string ModeName(const ::testing::TestParamInfo<Mode>& mode) { return mode.param.name; }

class ConformanceFilesTest : public ::testing::TestWithParam<Mode> {};

TEST_P(ConformanceFilesTest, EveryPublishedCasePasses) {
  auto pool = ComputePool::Create({GetParam().threads});
  ASSERT_OK(pool);
  KernelBackend backend(GetParam().implementation, **pool);
  const std::vector<ConformanceCase> golden = ReadCases(kGolden);
  const std::vector<ConformanceCase> errors = ReadCases(kErrors);
  EXPECT_EQ(golden.size(), 150u);
  EXPECT_EQ(errors.size(), 17u);
  for (const std::vector<ConformanceCase>* cases : {&golden, &errors}) {
    for (const ConformanceCase& c : *cases) {
      const Verdict verdict = Judge(c, backend.Run(c));
      EXPECT_TRUE(verdict.passed) << c.name << ": " << verdict.failure;
    }
  }
}

TEST_P(ConformanceFilesTest, RunnerReportsTheTotalsLine) {
  auto pool = ComputePool::Create({GetParam().threads});
  ASSERT_OK(pool);
  KernelBackend backend(GetParam().implementation, **pool);
  std::ostringstream out;
  const ConformanceTotals totals = RunConformance({kGolden, kErrors}, backend, out);
  EXPECT_EQ(totals.passed, 167);
  EXPECT_EQ(totals.failed, 0);
  EXPECT_EQ(out.str(), "167 passed, 0 failed\n");
}

// Every activation of both Keras versions, hard_sigmoid in both meanings, and the Keras 3 names
// tconv refuses; the runner (what `tconv conformance` runs) judges the same file.
TEST_P(ConformanceFilesTest, EveryCaseMadeByRealKerasPasses) {
  auto pool = ComputePool::Create({GetParam().threads});
  ASSERT_OK(pool);
  KernelBackend backend(GetParam().implementation, **pool);
  const std::vector<ConformanceCase> cases = ReadCases(kKeras);
  EXPECT_EQ(cases.size(), 50u);
  for (const ConformanceCase& c : cases) {
    const Verdict verdict = Judge(c, backend.Run(c));
    EXPECT_TRUE(verdict.passed) << c.name << ": " << verdict.failure;
  }
  std::ostringstream out;
  const ConformanceTotals totals = RunConformance({kKeras}, backend, out);
  EXPECT_EQ(out.str(), "50 passed, 0 failed\n");
  EXPECT_EQ(totals.failed, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ConformanceFilesTest,
                         ::testing::Values(Mode{"fast_1thread", Implementation::kFast, 1},
                                           Mode{"fast_3threads", Implementation::kFast, 3},
                                           Mode{"reference", Implementation::kReference, 1}),
                         ModeName);

// A backend that returns a fixed answer, to test the judging on its own.
class FixedBackend : public ConformanceBackend {
 public:
  explicit FixedBackend(absl::StatusOr<ConformanceOutput> answer) : answer_(std::move(answer)) {}
  absl::StatusOr<ConformanceOutput> Run(const ConformanceCase&) override { return answer_; }

 private:
  absl::StatusOr<ConformanceOutput> answer_;
};

ConformanceCase Golden(std::vector<float> want) {
  ConformanceCase c;
  c.name = "golden";
  c.output_shape = {1, 1, 1, static_cast<int64_t>(want.size())};
  c.output = std::move(want);
  return c;
}

TEST(ConformanceJudgeTest, AppliesThePublishedTolerance) {
  EXPECT_TRUE(WithinTolerance(1.0f, 1.0f));
  EXPECT_TRUE(WithinTolerance(100.01f, 100.0f));  // 1e-4 + 1e-2 = 0.0101 allowed
  EXPECT_FALSE(WithinTolerance(100.0102f, 100.0f));
  EXPECT_TRUE(WithinTolerance(0.0000999f, 0.0f));
  EXPECT_FALSE(WithinTolerance(0.000101f, 0.0f));
  EXPECT_FALSE(WithinTolerance(std::nanf(""), 0.0f));
  EXPECT_FALSE(WithinTolerance(std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::infinity()));
}

TEST(ConformanceJudgeTest, GoldenFailsOnShapeValuesOrRefusal) {
  const ConformanceCase c = Golden({1, 2, 3});
  EXPECT_TRUE(Judge(c, ConformanceOutput{{1, 1, 1, 3}, {1, 2, 3}}).passed);
  EXPECT_THAT(Judge(c, ConformanceOutput{{1, 1, 3, 1}, {1, 2, 3}}).failure,
              HasSubstr("output shape [1, 1, 3, 1], want [1, 1, 1, 3]"));
  EXPECT_THAT(Judge(c, ConformanceOutput{{1, 1, 1, 3}, {1, 2.5, std::nanf("")}}).failure,
              HasSubstr("2 of 3 elements outside tolerance; first element 1: got 2.5, want 2; "
                        "worst element 2: got nan, want 3"));
  EXPECT_THAT(Judge(c, absl::InvalidArgumentError("no")).failure, HasSubstr("refused"));
}

TEST(ConformanceJudgeTest, ErrorCasePassesOnlyWithInvalidArgument) {
  ConformanceCase c;
  c.name = "err";
  c.expect_error = ExpectedError::kCall;
  EXPECT_TRUE(Judge(c, absl::InvalidArgumentError("bad")).passed);
  EXPECT_FALSE(Judge(c, absl::InternalError("bug")).passed);
  EXPECT_FALSE(Judge(c, absl::UnimplementedError("no")).passed);
  EXPECT_THAT(Judge(c, ConformanceOutput{{1, 1, 1, 1}, {0}}).failure, HasSubstr("but it ran"));
}

TEST(ConformanceJudgeTest, ErrorCaseWithMentionsNeedsARefusalNamingOne) {
  ConformanceCase c;
  c.name = "err";
  c.expect_error = ExpectedError::kConstruct;
  c.error_mentions = {"output_padding", "strides"};
  EXPECT_TRUE(Judge(c, absl::InvalidArgumentError("strides (1, 1) too small")).passed);
  EXPECT_THAT(Judge(c, absl::InvalidArgumentError("bad config")).failure,
              HasSubstr("names none of: output_padding, strides"));
}

TEST(ConformanceParseTest, RefusesMalformedLinesWithAReason) {
  EXPECT_THAT(ParseConformanceCase("{not json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(ParseConformanceCase("[1, 2]"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ParseConformanceCase(R"({"name": "x", "config": {}})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"input_shape\" is missing")));
  EXPECT_THAT(ParseConformanceCase(R"({"name": "x", "config": {}, "input_shape": [1, 1, 1, 2],
      "input": [1], "kernel": [], "bias": null, "output_shape": [1], "output": [0]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"input\" has 1 numbers but \"input_shape\" needs 2")));
  EXPECT_THAT(ParseConformanceCase(R"({"name": "x", "config": {}, "input_shape": [1, 1, 1, 1],
      "input": ["a"], "kernel": [], "bias": null, "output_shape": [1], "output": [0]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must hold numbers")));
  EXPECT_THAT(ParseConformanceCase(R"({"name": "x", "config": {}, "input_shape": [1],
      "expect_error": "call", "error_mentions": "strides"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("error_mentions")));
  EXPECT_THAT(ParseConformanceCase(R"({"name": "x", "config": {}, "input_shape": [1],
      "expect_error": "later"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expect_error")));
}

TEST(KernelBackendTest, RefusesInputOfRankOtherThanFour) {
  KernelBackend backend(Implementation::kFast, ComputePool::Default());
  ConformanceCase c;
  c.config_json = R"({"filters": 1, "kernel_size": 1})";
  c.kernel = std::vector<float>{1.0f};
  c.bias = {0.0f};
  for (std::vector<int64_t> shape : {std::vector<int64_t>{1, 3, 3}, {1, 1, 3, 3, 1}}) {
    c.input_shape = shape;
    c.input = std::vector<float>(9, 1.0f);
    EXPECT_THAT(backend.Run(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("input must have rank 4, got rank")));
  }
  c.input_shape = {1, 3, 3, 1};
  EXPECT_OK(backend.Run(c));
  c.input_shape = {1, 3, 3, 2};  // 2 channels: the 1-element kernel does not fit
  c.input = std::vector<float>(18, 1.0f);
  EXPECT_THAT(backend.Run(c), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ConformanceRunnerTest, MalformedLinesAndMissingFilesAreFailuresNotCrashes) {
  const std::string path = std::string(TCONV_BINARY_DIR) + "/conformance_runner_test.jsonl";
  {
    std::ofstream out(path);
    std::ifstream golden(kGolden);
    std::string first;
    std::getline(golden, first);
    out << first << "\n\n{\"name\": \"broken\", \"config\": \n"
        << "[]\n";
  }
  KernelBackend kernel(Implementation::kReference, ComputePool::Default());
  std::ostringstream out;
  const ConformanceTotals totals = RunConformance({path, path + ".missing"}, kernel, out);
  EXPECT_EQ(totals.passed, 1);
  EXPECT_EQ(totals.failed, 3);
  EXPECT_THAT(out.str(), HasSubstr(path + ":3: malformed case: line is not valid JSON"));
  EXPECT_THAT(out.str(), HasSubstr(path + ":4: malformed case: line is not a JSON object"));
  EXPECT_THAT(out.str(), HasSubstr(".missing: cannot open the file"));
  EXPECT_THAT(out.str(), ::testing::EndsWith("1 passed, 3 failed\n"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tconv::tool
