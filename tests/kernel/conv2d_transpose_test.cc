// Fast path vs reference on named argument combinations and a seeded random sweep, in both
// data formats and with 1 and 3 threads (see conv2d_transpose_tester.h).
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "conv2d_transpose_tester.h"
#include "gtest/gtest.h"

namespace tconv::testing {
namespace {

using T = Conv2DTransposeTester;

struct NamedCase {
  std::string name;
  Conv2DTransposeTester tester;
};

std::string CaseName(const ::testing::TestParamInfo<NamedCase>& info) { return info.param.name; }

class Conv2DTransposeCaseTest : public ::testing::TestWithParam<NamedCase> {};
TEST_P(Conv2DTransposeCaseTest, FastMatchesReference) { GetParam().tester.Test(); }

std::vector<NamedCase> ActivationCases() {
  std::vector<NamedCase> cases;
  for (int a = 0; a <= static_cast<int>(Activation::kGelu); ++a) {
    const auto activation = static_cast<Activation>(a);
    cases.push_back({std::string(ActivationName(activation)), T().input(2, 5, 4, 3)
                                                                  .filters(4)
                                                                  .kernel(3, 3)
                                                                  .strides(2, 2)
                                                                  .padding("same")
                                                                  .activation(activation)});
  }
  return cases;
}
INSTANTIATE_TEST_SUITE_P(Activations, Conv2DTransposeCaseTest,
                         ::testing::ValuesIn(ActivationCases()), CaseName);

INSTANTIATE_TEST_SUITE_P(
    Padding, Conv2DTransposeCaseTest,
    ::testing::Values(
        NamedCase{"valid_s1", T().input(1, 4, 5, 3).filters(2).kernel(3, 3).padding("valid")},
        NamedCase{"same_s1", T().input(1, 4, 5, 3).filters(2).kernel(3, 3).padding("same")},
        NamedCase{"valid_s2", T().input(2, 4, 5, 3).filters(2).kernel(3, 3).strides(2, 2)},
        NamedCase{"same_s2_k4",
                  T().input(2, 4, 5, 3).filters(2).kernel(4, 4).strides(2, 2).padding("same")},
        NamedCase{"same_s3_k5",
                  T().input(1, 3, 3, 2).filters(3).kernel(5, 5).strides(3, 3).padding("same")},
        NamedCase{"same_s3_k2",
                  T().input(1, 3, 4, 2).filters(3).kernel(2, 2).strides(3, 3).padding("same")}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    OutputPadding, Conv2DTransposeCaseTest,
    ::testing::Values(
        NamedCase{"none", T().input(1, 3, 3, 2).kernel(5, 5).strides(3, 3).padding("same")},
        NamedCase{
            "zero",
            T().input(1, 3, 3, 2).kernel(5, 5).strides(3, 3).padding("same").output_padding(0, 0)},
        NamedCase{
            "one",
            T().input(1, 3, 3, 2).kernel(5, 5).strides(3, 3).padding("same").output_padding(1, 1)},
        NamedCase{
            "max",
            T().input(1, 3, 3, 2).kernel(5, 5).strides(3, 3).padding("same").output_padding(2, 2)},
        NamedCase{
            "mixed",
            T().input(2, 3, 4, 3).kernel(3, 3).strides(2, 3).padding("same").output_padding(1, 0)},
        NamedCase{"valid_max",
                  T().input(1, 4, 3, 2).kernel(3, 2).strides(2, 3).output_padding(1, 2)},
        NamedCase{"valid_zero",
                  T().input(1, 4, 3, 2).kernel(2, 2).strides(3, 3).output_padding(0, 0)},
        NamedCase{
            "same_even_kernel_op1",
            T().input(1, 4, 4, 2).kernel(4, 4).strides(2, 2).padding("same").output_padding(1, 1)}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Dilation, Conv2DTransposeCaseTest,
    ::testing::Values(
        NamedCase{"d2_valid", T().input(1, 5, 4, 3).filters(3).kernel(3, 3).dilation(2, 2)},
        NamedCase{"d2_same",
                  T().input(1, 5, 4, 3).filters(3).kernel(3, 3).dilation(2, 2).padding("same")},
        NamedCase{"d3_same",
                  T().input(2, 4, 6, 2).filters(2).kernel(3, 2).dilation(3, 3).padding("same")},
        NamedCase{"d3_k2_same_none",
                  T().input(1, 4, 4, 2).kernel(2, 2).dilation(3, 3).padding("same")},
        NamedCase{"d2_k2_valid_op0",
                  T().input(1, 3, 3, 2).kernel(2, 2).dilation(2, 2).output_padding(0, 0)}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2DTransposeCaseTest,
    ::testing::Values(
        NamedCase{"k1x1", T().input(2, 4, 4, 5).filters(3).kernel(1, 1)},
        NamedCase{"k1x1_s2", T().input(1, 4, 4, 5).filters(3).kernel(1, 1).strides(2, 2)},
        NamedCase{"k1x7", T().input(1, 3, 8, 2).filters(3).kernel(1, 7).padding("same")},
        NamedCase{"k7x1", T().input(1, 8, 3, 2).filters(3).kernel(7, 1).padding("same")},
        NamedCase{"kernel_larger_than_input", T().input(1, 2, 2, 3).kernel(5, 5)},
        NamedCase{"kernel_larger_than_input_same",
                  T().input(1, 2, 1, 3).kernel(6, 5).padding("same")},
        NamedCase{"input_1x1_k4_s2",
                  T().input(3, 1, 1, 8).filters(5).kernel(4, 4).strides(2, 2).padding("same")},
        NamedCase{"stride_larger_than_kernel", T().input(1, 3, 3, 2).kernel(2, 2).strides(3, 3)},
        NamedCase{"stride_larger_than_kernel_same",
                  T().input(1, 3, 2, 2).kernel(1, 2).strides(4, 3).padding("same")},
        NamedCase{"non_square",
                  T().input(2, 3, 6, 3).filters(4).kernel(2, 4).strides(1, 3).padding("same")},
        NamedCase{"no_bias",
                  T().input(2, 4, 4, 3).filters(4).kernel(3, 3).strides(2, 2).use_bias(false)},
        NamedCase{"batch1", T().input(1, 3, 3, 4).filters(5).kernel(3, 3).strides(2, 2)},
        NamedCase{"batch2", T().input(2, 3, 3, 4).filters(5).kernel(3, 3).strides(2, 2)},
        NamedCase{"batch3", T().input(3, 3, 3, 4).filters(5).kernel(3, 3).strides(2, 2)},
        NamedCase{"batch4", T().input(4, 3, 3, 4).filters(5).kernel(3, 3).strides(2, 2)},
        NamedCase{"batch5", T().input(5, 3, 3, 4).filters(5).kernel(3, 3).strides(2, 2)},
        NamedCase{"c1_f1", T().input(2, 5, 5, 1).filters(1).kernel(3, 3).strides(2, 2)},
        NamedCase{"c37_f5",
                  T().input(1, 4, 4, 37).filters(5).kernel(3, 3).strides(2, 2).padding("same")},
        NamedCase{"c13_f31", T().input(2, 3, 5, 13).filters(31).kernel(3, 3).padding("same")},
        NamedCase{"c3_f37",
                  T().input(1, 5, 3, 3).filters(37).kernel(4, 4).strides(2, 2).padding("same")},
        NamedCase{"c17_f1",
                  T().input(2, 7, 7, 17).filters(1).kernel(5, 5).strides(2, 2).padding("same")},
        NamedCase{"c64_f32_wide", T().input(2, 6, 6, 64)
                                      .filters(32)
                                      .kernel(4, 4)
                                      .strides(2, 2)
                                      .padding("same")
                                      .use_bias(false)}),
    CaseName);

// A random but replicable configuration: every argument Keras accepts, within small sizes.
Conv2DTransposeTester RandomCase(std::mt19937_64& rng) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  T t;
  t.input(pick(1, 3), pick(1, 8), pick(1, 8), pick(1, 20)).filters(pick(1, 20));
  const int64_t kh = pick(1, 5), kw = pick(1, 5);
  t.kernel(kh, kw);
  const bool same = pick(0, 1) == 1;
  t.padding(same ? "same" : "valid");
  Pair kd = {kh, kw};
  if (pick(0, 3) == 0) {  // dilation: stride 1 and equal rates only (TF 2.x)
    const int64_t d = pick(2, 3);
    t.dilation(d, d);
    kd = {(kh - 1) * d + 1, (kw - 1) * d + 1};
  } else {
    t.strides(pick(1, 4), pick(1, 4));
  }
  const Pair strides = t.Config(DataFormat::kChannelsLast).strides;
  if (pick(0, 1) == 1) {
    Pair op = {pick(0, strides[0] - 1), pick(0, strides[1] - 1)};
    for (int axis = 0; axis < 2; ++axis) {  // same + even effective kernel needs op >= 1
      if (same && kd[axis] % 2 == 0 && op[axis] == 0) op[axis] = strides[axis] > 1 ? 1 : -1;
    }
    if (op[0] >= 0 && op[1] >= 0) t.output_padding(op[0], op[1]);
  }
  t.activation(static_cast<Activation>(pick(0, static_cast<int>(Activation::kGelu))));
  t.use_bias(pick(0, 3) != 0);
  t.seed(rng());
  return t;
}

TEST(Conv2DTransposeRandomTest, FastMatchesReferenceOnRandomShapes) {
  // Replicable: --gtest_random_seed=N picks the sweep; 0 (the default) means a fixed seed.
  const int flag_seed = GTEST_FLAG_GET(random_seed);
  const uint64_t seed = flag_seed != 0 ? flag_seed : 20261125;
  std::cout << "random sweep seed " << seed << " (reproduce with --gtest_random_seed=" << seed
            << ")\n";
  std::mt19937_64 rng(seed);
  constexpr int kCases = 300;
  for (int i = 0; i < kCases && !HasFailure(); ++i) {
    const T tester = RandomCase(rng);
    SCOPED_TRACE("random case " + std::to_string(i) + " of seed " + std::to_string(seed));
    tester.Test();
  }
}

}  // namespace
}  // namespace tconv::testing
