// InitializeWeights: each TF 2.x initializer's distribution (spec §6) checked statistically on
// a large kernel, Conv2DTranspose's fan rule (fan_in = kh*kw*filters, fan_out = kh*kw*C) seen
// through the variance, determinism and seeds, orthogonality, and the refusals.
#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"
#include "testing/status_matchers.h"

namespace tconv {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
// Standard deviation of a standard normal truncated to [-2, 2].
constexpr double kTruncatedStddev = 0.87962566103423978;

// The statistics shape: kernel (3, 3, 32, 256), 73,728 values. Filters and in_channels differ
// by 8x so that swapped fans change every variance-scaling width by sqrt(8) or more.
constexpr int64_t kFilters = 32;
constexpr int64_t kInChannels = 256;
constexpr double kFanIn = 3 * 3 * kFilters;      // 288
constexpr double kFanOut = 3 * 3 * kInChannels;  // 2304

LayerConfig Config(const std::string& kernel_init, const std::string& bias_init = R"("zeros")",
                   int64_t filters = kFilters, int64_t kernel = 3) {
  const std::string json =
      "{\"filters\": " + std::to_string(filters) + ", \"kernel_size\": " + std::to_string(kernel) +
      ", \"kernel_initializer\": " + kernel_init + ", \"bias_initializer\": " + bias_init + "}";
  absl::StatusOr<LayerConfig> config = LayerConfig::FromJson(json);
  EXPECT_TRUE(config.ok()) << config.status() << "\n" << json;
  return config.ok() ? *config : LayerConfig{};
}

LayerWeights Initialize(const LayerConfig& config, int64_t in_channels, uint64_t seed) {
  absl::StatusOr<LayerWeights> weights = InitializeWeights(config, in_channels, seed);
  EXPECT_TRUE(weights.ok()) << weights.status();
  return weights.ok() ? *std::move(weights) : LayerWeights{};
}

struct Stats {
  double mean = 0, stddev = 0, min = 0, max = 0;
};

Stats Measure(const std::vector<float>& values) {
  Stats stats;
  double sum = 0, sum_sq = 0;
  for (float v : values) sum += v;
  stats.mean = sum / values.size();
  for (float v : values) sum_sq += (v - stats.mean) * (v - stats.mean);
  stats.stddev = std::sqrt(sum_sq / values.size());
  stats.min = *std::min_element(values.begin(), values.end());
  stats.max = *std::max_element(values.begin(), values.end());
  return stats;
}

enum class Shape { kUniform, kTruncatedNormal, kNormal };

struct DistributionCase {
  std::string name;
  std::string initializer;
  Shape shape;
  double center;
  double width;  // uniform: half-width L of [center - L, center + L); normals: sigma before
                 // truncation
};

void PrintTo(const DistributionCase& c, std::ostream* os) { *os << c.name; }

class InitializerDistribution : public ::testing::TestWithParam<DistributionCase> {};

TEST_P(InitializerDistribution, MatchesTf2Distribution) {
  const DistributionCase& c = GetParam();
  const LayerWeights weights = Initialize(Config(c.initializer), kInChannels, /*seed=*/2024);
  ASSERT_EQ(weights.kernel.size(), size_t{3 * 3 * kFilters * kInChannels});
  const Stats stats = Measure(weights.kernel);
  const double expected_stddev = c.shape == Shape::kUniform           ? c.width / std::sqrt(3.0)
                                 : c.shape == Shape::kTruncatedNormal ? c.width * kTruncatedStddev
                                                                      : c.width;
  const double n = static_cast<double>(weights.kernel.size());
  EXPECT_NEAR(stats.mean, c.center, 5 * expected_stddev / std::sqrt(n));
  EXPECT_NEAR(stats.stddev, expected_stddev, 0.02 * expected_stddev);
  const double low = c.center - c.width, high = c.center + c.width;
  if (c.shape == Shape::kUniform) {
    EXPECT_GE(stats.min, static_cast<float>(low));
    EXPECT_LT(stats.max, static_cast<float>(high));
    EXPECT_LT(stats.min, low + 0.001 * c.width);  // the whole interval is used
    EXPECT_GT(stats.max, high - 0.001 * c.width);
  } else if (c.shape == Shape::kTruncatedNormal) {
    // Re-drawn beyond 2 sigma, and filled right up to it.
    EXPECT_GE(stats.min, c.center - 2 * c.width * (1 + 1e-6));
    EXPECT_LE(stats.max, c.center + 2 * c.width * (1 + 1e-6));
    EXPECT_LT(stats.min, c.center - 1.98 * c.width);
    EXPECT_GT(stats.max, c.center + 1.98 * c.width);
  } else {
    const auto beyond = std::count_if(weights.kernel.begin(), weights.kernel.end(), [&](float v) {
      return std::abs(v - c.center) > 2 * c.width;
    });
    EXPECT_NEAR(beyond / n, 0.0455, 0.005);  // P(|z| > 2) of an untruncated normal
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tf2Initializers, InitializerDistribution,
    ::testing::Values(
        DistributionCase{"glorot_uniform", R"("glorot_uniform")", Shape::kUniform, 0,
                         std::sqrt(6 / (kFanIn + kFanOut))},
        DistributionCase{"glorot_normal", R"("glorot_normal")", Shape::kTruncatedNormal, 0,
                         std::sqrt(2 / (kFanIn + kFanOut)) / kTruncatedStddev},
        DistributionCase{"he_uniform", R"("he_uniform")", Shape::kUniform, 0,
                         std::sqrt(6 / kFanIn)},
        DistributionCase{"he_normal", R"("he_normal")", Shape::kTruncatedNormal, 0,
                         std::sqrt(2 / kFanIn) / kTruncatedStddev},
        DistributionCase{"lecun_uniform", R"("lecun_uniform")", Shape::kUniform, 0,
                         std::sqrt(3 / kFanIn)},
        DistributionCase{"lecun_normal", R"("lecun_normal")", Shape::kTruncatedNormal, 0,
                         std::sqrt(1 / kFanIn) / kTruncatedStddev},
        DistributionCase{"variance_scaling_default", R"("variance_scaling")",
                         Shape::kTruncatedNormal, 0, std::sqrt(1 / kFanIn) / kTruncatedStddev},
        DistributionCase{"variance_scaling_fan_out_uniform",
                         R"({"class_name": "VarianceScaling", "config": {"scale": 3,
                             "mode": "fan_out", "distribution": "uniform"}})",
                         Shape::kUniform, 0, std::sqrt(9 / kFanOut)},
        DistributionCase{"variance_scaling_fan_avg_untruncated",
                         R"({"class_name": "VarianceScaling", "config": {"scale": 0.5,
                             "mode": "fan_avg", "distribution": "untruncated_normal"}})",
                         Shape::kNormal, 0, std::sqrt(0.5 / ((kFanIn + kFanOut) / 2))},
        DistributionCase{"variance_scaling_normal_alias_fan_out",
                         R"({"class_name": "VarianceScaling", "config": {"mode": "fan_out",
                             "distribution": "normal"}})",
                         Shape::kTruncatedNormal, 0, std::sqrt(1 / kFanOut) / kTruncatedStddev},
        DistributionCase{"random_normal_default", R"("random_normal")", Shape::kNormal, 0, 0.05},
        DistributionCase{"random_normal_mean_stddev",
                         R"({"class_name": "RandomNormal", "config": {"mean": 1, "stddev": 0.2}})",
                         Shape::kNormal, 1.0, 0.2},
        DistributionCase{"random_uniform_default", R"("random_uniform")", Shape::kUniform, 0, 0.05},
        DistributionCase{"random_uniform_range",
                         R"({"class_name": "RandomUniform", "config": {"minval": 2, "maxval": 3}})",
                         Shape::kUniform, 2.5, 0.5},
        DistributionCase{"truncated_normal_default", R"("truncated_normal")",
                         Shape::kTruncatedNormal, 0, 0.05},
        DistributionCase{"truncated_normal_mean_stddev",
                         R"({"class_name": "TruncatedNormal", "config": {"mean": -1,
                             "stddev": 0.5}})",
                         Shape::kTruncatedNormal, -1.0, 0.5}),
    [](const auto& test_case) { return test_case.param.name; });

TEST(InitializeWeights, ConstantsAndDefaultBias) {
  const LayerWeights ones = Initialize(Config(R"("ones")", R"("constant")"), 3, 1);
  EXPECT_THAT(ones.kernel, ::testing::Each(1.0f));
  EXPECT_THAT(ones.bias, ::testing::Each(0.0f));
  const LayerWeights constant = Initialize(
      Config(R"({"class_name": "Constant", "config": {"value": 0.25}})", R"("ones")"), 3, 1);
  EXPECT_THAT(constant.kernel, ::testing::Each(0.25f));
  EXPECT_THAT(constant.bias, ::testing::Each(1.0f));
  EXPECT_EQ(constant.bias.size(), size_t{kFilters});
  const LayerWeights zeros = Initialize(Config(R"("zeros")"), 3, 1);
  EXPECT_THAT(zeros.kernel, ::testing::Each(0.0f));
  EXPECT_EQ(zeros.kernel.size(), size_t{3 * 3 * kFilters * 3});
}

TEST(InitializeWeights, NoBiasWithoutUseBias) {
  LayerConfig config = Config(R"("glorot_uniform")");
  config.use_bias = false;
  EXPECT_TRUE(Initialize(config, 4, 1).bias.empty());
  // The default bias initializer is zeros.
  EXPECT_THAT(Initialize(Config(R"("glorot_uniform")"), 4, 1).bias, ::testing::Each(0.0f));
}

// A rank-1 shape has fan_in = fan_out = its length (Keras' _compute_fans).
TEST(InitializeWeights, BiasUsesOneDimensionalFans) {
  constexpr int64_t kManyFilters = 40000;
  const LayerWeights weights =
      Initialize(Config(R"("zeros")", R"("glorot_uniform")", kManyFilters, 1), 1, 5);
  const Stats stats = Measure(weights.bias);
  const double limit = std::sqrt(6.0 / (2 * kManyFilters));
  EXPECT_GE(stats.min, -limit);
  EXPECT_LT(stats.max, limit);
  EXPECT_GT(stats.max, 0.99 * limit);
  EXPECT_NEAR(stats.stddev, limit / std::sqrt(3.0), 0.02 * limit);
}

TEST(InitializeWeights, DeterministicAndSeedSensitive) {
  const LayerConfig config = Config(R"("he_normal")", R"("random_normal")");
  const LayerWeights first = Initialize(config, 16, 99);
  const LayerWeights again = Initialize(config, 16, 99);
  const LayerWeights other = Initialize(config, 16, 100);
  EXPECT_EQ(first.kernel, again.kernel);
  EXPECT_EQ(first.bias, again.bias);
  EXPECT_NE(first.kernel, other.kernel);
  EXPECT_NE(first.bias, other.bias);
  // Kernel and bias draw from separate streams.
  EXPECT_FALSE(std::equal(first.bias.begin(), first.bias.end(), first.kernel.begin()));
}

TEST(InitializeWeights, SeedInInitializerConfigWins) {
  const LayerConfig seven = Config(R"({"class_name": "GlorotNormal", "config": {"seed": 7}})");
  const LayerConfig eight = Config(R"({"class_name": "GlorotNormal", "config": {"seed": 8}})");
  EXPECT_EQ(Initialize(seven, 8, 1).kernel, Initialize(seven, 8, 2).kernel);
  EXPECT_NE(Initialize(seven, 8, 1).kernel, Initialize(eight, 8, 1).kernel);
}

// Orthogonal: the (kh*kw*F, C) matrix has orthonormal columns (or rows, when wide) times gain.
void ExpectOrthogonal(const std::vector<float>& kernel, int64_t rows, int64_t cols, double gain) {
  const bool tall = rows >= cols;
  const int64_t count = tall ? cols : rows, length = tall ? rows : cols;
  const auto at = [&](int64_t vector, int64_t i) {
    return double(tall ? kernel[i * cols + vector] : kernel[vector * cols + i]);
  };
  for (int64_t a = 0; a < count; ++a) {
    for (int64_t b = 0; b <= a; ++b) {
      double dot = 0;
      for (int64_t i = 0; i < length; ++i) dot += at(a, i) * at(b, i);
      EXPECT_NEAR(dot, a == b ? gain * gain : 0.0, 1e-5 * gain * gain) << a << "," << b;
    }
  }
}

TEST(InitializeWeights, OrthogonalTallKernelHasOrthonormalColumns) {
  const LayerConfig config =
      Config(R"({"class_name": "Orthogonal", "config": {"gain": 2.0}})", R"("zeros")", 16);
  const LayerWeights weights = Initialize(config, 32, 3);  // (3*3*16, 32) = (144, 32)
  ExpectOrthogonal(weights.kernel, 144, 32, 2.0);
  EXPECT_NE(weights.kernel, Initialize(config, 32, 4).kernel);
  // Not a permutation of the identity: a column's mass is spread over its 144 entries.
  EXPECT_LT(Measure(weights.kernel).max, 1.5);
}

TEST(InitializeWeights, OrthogonalWideKernelHasOrthonormalRows) {
  const LayerConfig config = Config(R"("orthogonal")", R"("zeros")", 8, 1);
  ExpectOrthogonal(Initialize(config, 32, 3).kernel, 8, 32, 1.0);  // (1*1*8, 32)
}

TEST(InitializeWeights, RefusesInitializersThatCannotShapeThisKernel) {
  EXPECT_THAT(InitializeWeights(Config(R"("identity")"), 4, 1),
              StatusIs(kInvalid, AllOf(HasSubstr("kernel_initializer"), HasSubstr("Identity"))));
  EXPECT_THAT(InitializeWeights(Config(R"("zeros")", R"("orthogonal")"), 4, 1),
              StatusIs(kInvalid, HasSubstr("bias_initializer")));
  // A QR too large to run inside a request (65536 x 4096) is refused before any allocation.
  EXPECT_THAT(InitializeWeights(Config(R"("orthogonal")", R"("zeros")", 4096, 4), 4096, 1),
              StatusIs(kInvalid, HasSubstr("Orthogonal")));
}

TEST(InitializeWeights, RefusesValuesBeyondFloat32) {
  EXPECT_THAT(
      InitializeWeights(Config(R"({"class_name": "Constant", "config": {"value": 1e39}})"), 2, 1),
      StatusIs(kInvalid, AllOf(HasSubstr("kernel_initializer"), HasSubstr("inf"))));
  EXPECT_THAT(InitializeWeights(Config(R"("zeros")", R"({"class_name": "RandomNormal",
                                           "config": {"mean": -1e300}})"),
                                2, 1),
              StatusIs(kInvalid, HasSubstr("bias_initializer")));
}

TEST(InitializeWeights, RefusesBadChannelsAndSizes) {
  const LayerConfig config = Config(R"("glorot_uniform")");
  for (int64_t in_channels : {int64_t{0}, int64_t{-3}, LayerLimits::kMaxInChannels + 1}) {
    EXPECT_THAT(InitializeWeights(config, in_channels, 1),
                StatusIs(kInvalid, HasSubstr("in_channels " + std::to_string(in_channels))));
  }
  // 64*64*65536*2 elements exceed LayerLimits::kMaxKernelElements.
  EXPECT_THAT(InitializeWeights(Config(R"("zeros")", R"("zeros")", 65536, 64), 2, 1),
              StatusIs(kInvalid, HasSubstr("elements")));
  LayerConfig invalid = config;
  invalid.filters = 0;
  EXPECT_THAT(InitializeWeights(invalid, 4, 1), StatusIs(kInvalid, HasSubstr("filters")));
}

}  // namespace
}  // namespace tconv
