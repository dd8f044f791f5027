// The activations against their formulas evaluated here in double with the scalar libm, on
// every path the CPU has: libmvec's AVX2 vector functions (TCONV_ISA=avx2 or better) and the
// scalar code (TCONV_ISA=scalar). A layer with a 1x1 kernel of weight 1 and no bias passes its
// input through unchanged, so its output is the activation of the input.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "conv2d_transpose_tester.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tconv::testing {
namespace {

struct Formula {
  Activation activation;
  const char* name;
  double (*apply)(double);
};

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// TF 2.x's definitions (spec §5), written out independently of kernel/src/activations.cc.
const Formula kFormulas[] = {
    {Activation::kTanh, "tanh", [](double x) { return std::tanh(x); }},
    {Activation::kSigmoid, "sigmoid", Sigmoid},
    {Activation::kSwish, "swish", [](double x) { return x * Sigmoid(x); }},
    {Activation::kExponential, "exponential", [](double x) { return std::exp(x); }},
    {Activation::kElu, "elu", [](double x) { return x > 0 ? x : std::expm1(x); }},
    {Activation::kSelu, "selu",
     [](double x) {
       return 1.0507009873554804934 * (x > 0 ? x : 1.6732632423543772848 * std::expm1(x));
     }},
    {Activation::kSoftplus, "softplus",
     [](double x) {
       const double threshold = std::log(double(std::numeric_limits<float>::epsilon())) + 2;
       if (x > -threshold) return x;
       if (x < threshold) return std::exp(x);
       return std::log1p(std::exp(x));
     }},
    {Activation::kGelu, "gelu",
     [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }},
};

// Distance in representable floats (same sign assumed where both are finite and nonzero).
int64_t UlpDistance(float a, float b) {
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b)) return INT64_MAX;
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if ((ia < 0) != (ib < 0)) return std::abs(int64_t(ia & 0x7fffffff) + int64_t(ib & 0x7fffffff));
  return std::abs(int64_t(ia) - int64_t(ib));
}

// -30..30 in small steps (both sides of softplus's thresholds and of exp's and erf's
// saturation), and values at the extremes of float.
std::vector<float> Inputs() {
  std::vector<float> x;
  for (int i = -3000; i <= 3000; i += 7) x.push_back(float(i) / 100.0f);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, -1e-6f, 87.0f, 89.0f, -87.0f, -104.0f,
                  -110.0f, 1e30f, -1e30f}) {
    x.push_back(v);
  }
  return x;
}

// The activation of `input` through a pass-through layer: one row of `width` pixels. Fails the
// test (fatally, so callers wrap it in ASSERT_NO_FATAL_FAILURE) when the layer refuses.
void Activate(Activation activation, const std::vector<float>& input, std::vector<float>* output) {
  LayerConfig config;
  config.filters = 1;
  config.kernel_size = {1, 1};
  config.use_bias = false;
  config.activation = activation;
  LayerWeights weights;
  weights.kernel = {1.0f};
  auto layer = Conv2DTranspose::Create(config, 1, weights);
  ASSERT_OK(layer);
  output->assign(input.size(), 0.0f);
  const Shape4 shape{1, 1, int64_t(input.size()), 1};
  ASSERT_OK((*layer)->Run(input, shape, absl::MakeSpan(*output), PoolWithThreads(1)));
}

class ActivationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { setenv("TCONV_ISA", GetParam().c_str(), 1); }
  void TearDown() override { unsetenv("TCONV_ISA"); }
};

TEST_P(ActivationTest, WithinOneFloatOfTheFormulaInDouble) {
  const std::vector<float> x = Inputs();
  for (const Formula& f : kFormulas) {
    SCOPED_TRACE(f.name);
    std::vector<float> got;
    ASSERT_NO_FATAL_FAILURE(Activate(f.activation, x, &got));
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = static_cast<float>(f.apply(x[i]));
      // Or within 1e-12: gelu's 1 + erf(x / sqrt 2) cancels below x = -5, so there the double
      // formula itself has no correct digits left (TF's float one gives 0).
      ASSERT_TRUE(UlpDistance(got[i], want) <= 1 || std::fabs(double(got[i]) - want) <= 1e-12)
          << "x=" << x[i] << " got " << got[i] << " want " << want;
    }
  }
}

// The vector path handles a range's last elements through a padded copy: an element's result
// must not depend on where the range ends.
TEST_P(ActivationTest, ElementResultIndependentOfRangeLength) {
  const std::vector<float> x = Inputs();
  for (const Formula& f : kFormulas) {
    SCOPED_TRACE(f.name);
    std::vector<float> whole;
    ASSERT_NO_FATAL_FAILURE(Activate(f.activation, x, &whole));
    for (size_t length = 1; length <= 9; ++length) {
      for (size_t start = 0; start + length <= 40; start += 3) {
        const std::vector<float> part(x.begin() + start, x.begin() + start + length);
        std::vector<float> got;
        ASSERT_NO_FATAL_FAILURE(Activate(f.activation, part, &got));
        ASSERT_EQ(0, std::memcmp(got.data(), whole.data() + start, length * sizeof(float)))
            << "elements " << start << ".." << start + length;
      }
    }
  }
}

// One row of a channels_first pass-through layer: the last axis is the width, so the row
// activations normalise `row` as a whole.
std::vector<float> ActivateRow(Activation activation, const std::vector<float>& row) {
  LayerConfig config;
  config.filters = 1;
  config.kernel_size = {1, 1};
  config.use_bias = false;
  config.data_format = DataFormat::kChannelsFirst;
  config.activation = activation;
  LayerWeights weights;
  weights.kernel = {1.0f};
  auto layer = Conv2DTranspose::Create(config, 1, weights);
  EXPECT_OK(layer);
  if (!layer.ok()) return {};
  std::vector<float> output(row.size());
  const Shape4 shape{1, 1, 1, int64_t(row.size())};
  EXPECT_OK((*layer)->Run(row, shape, absl::MakeSpan(output), PoolWithThreads(1)));
  return output;
}

// Keras 3's sparsemax (keras/src/backend/tensorflow/nn.py), worked by hand: tau is the sum of
// the support's running sums minus 1, over the support's size.
TEST(SparsemaxTest, FollowsKeras3sFormula) {
  // Sorted 3, 1, 0; running sums 3, 4, 4; support {3} (1 - 3/2 < 0): tau = (3 - 1) / 1.
  EXPECT_THAT(ActivateRow(Activation::kSparsemax, {1, 3, 0}),
              ::testing::ElementsAre(0.0f, 1.0f, 0.0f));
  // Support {0.1, -0.1}, running sums 0.1, 0: tau = (0.1 + 0 - 1) / 2 = -0.45 (the textbook
  // threshold would be -0.5): Keras answers 0.55, 0.35.
  EXPECT_THAT(ActivateRow(Activation::kSparsemax, {0.1f, -0.1f}),
              ::testing::ElementsAre(::testing::FloatNear(0.55f, 1e-6f),
                                     ::testing::FloatNear(0.35f, 1e-6f)));
}

INSTANTIATE_TEST_SUITE_P(Isa, ActivationTest, ::testing::Values("avx512", "avx2", "scalar"),
                         [](const ::testing::TestParamInfo<std::string>& isa) {
                           return isa.param;
                         });

}  // namespace
}  // namespace tconv::testing
