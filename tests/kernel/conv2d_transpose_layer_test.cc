// The Conv2DTranspose object itself: every refusal of Create / OutputShape / Run with its exact
// status code and message, one layer reused across batch sizes and input sizes, and Run called
// from several threads at once.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "conv2d_transpose_tester.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tconv::testing {
namespace {

using ::testing::HasSubstr;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

LayerConfig Config(int64_t filters, int64_t k, bool use_bias = true) {
  LayerConfig config;
  config.filters = filters;
  config.kernel_size = {k, k};
  config.use_bias = use_bias;
  return config;
}

LayerWeights Weights(int64_t kernel, int64_t bias) {
  return {std::vector<float>(kernel, 0.5f), std::vector<float>(bias, 0.25f)};
}

TEST(Conv2DTransposeCreateTest, AcceptsMatchingWeights) {
  auto layer = Conv2DTranspose::Create(Config(64, 3), 32, Weights(3 * 3 * 64 * 32, 64));
  ASSERT_OK(layer);
  EXPECT_EQ((*layer)->in_channels(), 32);
  EXPECT_EQ((*layer)->weights().kernel.size(), 3u * 3 * 64 * 32);
  EXPECT_GE((*layer)->packed_weight_bytes(), int64_t{0});
}

TEST(Conv2DTransposeCreateTest, RefusesWrongKernelElementCount) {
  EXPECT_THAT(Conv2DTranspose::Create(Config(64, 3), 32, Weights(100, 64)),
              StatusIs(kInvalid, HasSubstr("kernel has 100 elements, expected 3*3*64*32 = 18432")));
}

TEST(Conv2DTransposeCreateTest, RefusesWrongBiasElementCount) {
  EXPECT_THAT(Conv2DTranspose::Create(Config(4, 3), 2, Weights(3 * 3 * 4 * 2, 3)),
              StatusIs(kInvalid, HasSubstr("bias has 3 elements, expected filters = 4")));
  EXPECT_THAT(Conv2DTranspose::Create(Config(4, 3, /*use_bias=*/false), 2, Weights(72, 4)),
              StatusIs(kInvalid, HasSubstr("use_bias is false")));
}

TEST(Conv2DTransposeCreateTest, RefusesNonFiniteWeightsNamingTheIndex) {
  LayerWeights nan = Weights(72, 4);
  nan.kernel[17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(Conv2DTranspose::Create(Config(4, 3), 2, nan),
              StatusIs(kInvalid, HasSubstr("kernel[17] is nan")));
  LayerWeights inf = Weights(72, 4);
  inf.bias[3] = -std::numeric_limits<float>::infinity();
  EXPECT_THAT(Conv2DTranspose::Create(Config(4, 3), 2, inf),
              StatusIs(kInvalid, HasSubstr("bias[3] is -inf")));
}

TEST(Conv2DTransposeCreateTest, RefusesInChannelsOutsideLimits) {
  for (int64_t c : {int64_t{0}, int64_t{-3}, LayerLimits::kMaxInChannels + 1}) {
    EXPECT_THAT(Conv2DTranspose::Create(Config(4, 3), c, Weights(0, 4)),
                StatusIs(kInvalid, HasSubstr("in_channels")))
        << c;
  }
}

TEST(Conv2DTransposeCreateTest, RefusesKernelBeyondElementLimitWithoutAllocating) {
  // 16*16*65536*65536 = 2^40 elements: refused from the sizes alone.
  EXPECT_THAT(Conv2DTranspose::Create(Config(LayerLimits::kMaxFilters, 16),
                                      LayerLimits::kMaxInChannels, Weights(0, 0)),
              StatusIs(kInvalid, HasSubstr("exceeds the limit")));
}

TEST(Conv2DTransposeCreateTest, RefusesInvalidConfig) {
  EXPECT_THAT(Conv2DTranspose::Create(Config(0, 3), 2, Weights(0, 0)), StatusIs(kInvalid));
  LayerConfig stride_and_dilation = Config(2, 3);
  stride_and_dilation.strides = {2, 2};
  stride_and_dilation.dilation_rate = {2, 2};
  EXPECT_THAT(Conv2DTranspose::Create(stride_and_dilation, 2, Weights(36, 2)), StatusIs(kInvalid));
}

class Conv2DTransposeShapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LayerConfig config = Config(4, 3);
    config.strides = {2, 2};
    config.padding = Padding::kSame;
    auto layer = Conv2DTranspose::Create(config, 3, Weights(3 * 3 * 4 * 3, 4));
    ASSERT_OK(layer);
    layer_ = *layer;
    config.data_format = DataFormat::kChannelsFirst;
    auto layer_cf = Conv2DTranspose::Create(config, 3, Weights(3 * 3 * 4 * 3, 4));
    ASSERT_OK(layer_cf);
    layer_cf_ = *layer_cf;
  }
  std::shared_ptr<const Conv2DTranspose> layer_, layer_cf_;
};

TEST_F(Conv2DTransposeShapeTest, ComputesOutputShapeInTheDataFormat) {
  EXPECT_THAT(layer_->OutputShape({2, 5, 7, 3}), IsOkAndHolds(Shape4{2, 10, 14, 4}));
  EXPECT_THAT(layer_cf_->OutputShape({2, 3, 5, 7}), IsOkAndHolds(Shape4{2, 4, 10, 14}));
}

TEST_F(Conv2DTransposeShapeTest, RefusesEmptyOrNegativeSizes) {
  EXPECT_THAT(layer_->OutputShape({0, 5, 5, 3}), StatusIs(kInvalid, HasSubstr("batch")));
  EXPECT_THAT(layer_->OutputShape({1, 0, 5, 3}), StatusIs(kInvalid));
  EXPECT_THAT(layer_->OutputShape({1, 5, -1, 3}), StatusIs(kInvalid));
}

TEST_F(Conv2DTransposeShapeTest, RefusesChannelMismatch) {
  EXPECT_THAT(layer_->OutputShape({1, 5, 5, 256}),
              StatusIs(kInvalid, HasSubstr("input has 256 channels, layer expects 3")));
  // channels_first reads the channels from axis 1, not axis 3.
  EXPECT_THAT(layer_cf_->OutputShape({1, 5, 5, 3}),
              StatusIs(kInvalid, HasSubstr("input has 5 channels, layer expects 3")));
}

TEST_F(Conv2DTransposeShapeTest, RefusesSizesBeyondLimits) {
  EXPECT_THAT(layer_->OutputShape({1, LayerLimits::kMaxSpatial + 1, 1, 3}),
              StatusIs(kInvalid, HasSubstr("at most")));
  // Input elements beyond kMaxTensorElements, and a product that would overflow int64.
  EXPECT_THAT(layer_->OutputShape({1 << 20, 1000, 1000, 3}),
              StatusIs(kInvalid, HasSubstr("elements")));
  EXPECT_THAT(layer_->OutputShape({std::numeric_limits<int64_t>::max(), 60000, 60000, 3}),
              StatusIs(kInvalid, HasSubstr("elements")));
  // The input fits, the output (4x the pixels, 4/3 the channels) does not.
  EXPECT_THAT(layer_->OutputShape({65, 1024, 1024, 3}),
              StatusIs(kInvalid, HasSubstr("output shape [65, 2048, 2048, 4]")));
}

TEST_F(Conv2DTransposeShapeTest, RunRefusesBuffersOfTheWrongSize) {
  std::vector<float> input(1 * 5 * 5 * 3), output(1 * 10 * 10 * 4);
  for (Implementation impl : {Implementation::kFast, Implementation::kReference}) {
    EXPECT_THAT(layer_->Run(absl::MakeConstSpan(input).subspan(1), {1, 5, 5, 3},
                            absl::MakeSpan(output), PoolWithThreads(1), impl),
                StatusIs(kInvalid, HasSubstr("input has 74 elements")));
    EXPECT_THAT(layer_->Run(input, {1, 5, 5, 3}, absl::MakeSpan(output).subspan(1),
                            PoolWithThreads(1), impl),
                StatusIs(kInvalid, HasSubstr("output buffer has 399 elements")));
    EXPECT_THAT(layer_->Run(input, {1, 5, 5, 2}, absl::MakeSpan(output), PoolWithThreads(1), impl),
                StatusIs(kInvalid, HasSubstr("channels")));
    EXPECT_OK(layer_->Run(input, {1, 5, 5, 3}, absl::MakeSpan(output), PoolWithThreads(1), impl));
  }
}

// One layer serves any batch and input size, in any order; a repeated shape gives the same
// bits as its first run (the layer keeps no state between runs).
TEST(Conv2DTransposeReuseTest, OneLayerAcrossBatchAndInputSizes) {
  const Conv2DTransposeTester tester = Conv2DTransposeTester()
                                           .input(1, 1, 1, 6)
                                           .filters(5)
                                           .kernel(4, 3)
                                           .strides(2, 3)
                                           .padding("same")
                                           .output_padding(1, 2)
                                           .activation(Activation::kElu);
  for (DataFormat format : {DataFormat::kChannelsLast, DataFormat::kChannelsFirst}) {
    std::mt19937_64 rng(3);
    auto layer = tester.MakeLayer(format, rng);
    ASSERT_NE(layer, nullptr);
    const std::vector<std::array<int64_t, 3>> sizes = {{1, 5, 5}, {3, 2, 7}, {2, 1, 1}, {4, 9, 4},
                                                       {3, 2, 7}, {1, 5, 5}, {5, 3, 3}};
    std::map<std::array<int64_t, 3>, std::vector<float>> first_output;
    for (const auto& [batch, h, w] : sizes) {
      const Shape4 shape =
          format == DataFormat::kChannelsLast ? Shape4{batch, h, w, 6} : Shape4{batch, 6, h, w};
      SCOPED_TRACE(::testing::Message() << "input " << batch << "x" << h << "x" << w);
      std::mt19937_64 input_rng(batch * 100 + h * 10 + w);
      const std::vector<float> input = RandomFloats(Elements(shape), 1.0f, input_rng);
      auto out_shape = layer->OutputShape(shape);
      ASSERT_OK(out_shape);
      std::vector<float> want(Elements(*out_shape)), got(want.size());
      ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(want), PoolWithThreads(1),
                           Implementation::kReference));
      ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(got), PoolWithThreads(2)));
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_TRUE(WithinConformanceTolerance(got[i], want[i]))
            << "element " << i << ": fast " << got[i] << ", reference " << want[i];
      }
      auto [it, inserted] = first_output.emplace(std::array<int64_t, 3>{batch, h, w}, got);
      if (!inserted) {
        EXPECT_EQ(it->second, got) << "a repeated shape changed its output";
      }
    }
  }
}

// Run is const and thread-safe: several threads on one layer and one pool at once.
TEST(Conv2DTransposeConcurrencyTest, ConcurrentRunsGiveTheSameBits) {
  const Conv2DTransposeTester tester = Conv2DTransposeTester()
                                           .input(2, 6, 6, 8)
                                           .filters(8)
                                           .kernel(3, 3)
                                           .strides(2, 2)
                                           .padding("same")
                                           .activation(Activation::kSoftmax);
  std::mt19937_64 rng(11);
  auto layer = tester.MakeLayer(DataFormat::kChannelsFirst, rng);
  ASSERT_NE(layer, nullptr);
  const Shape4 shape = tester.InputShape(DataFormat::kChannelsFirst);
  const std::vector<float> input = RandomFloats(Elements(shape), 1.0f, rng);
  auto out_shape = layer->OutputShape(shape);
  ASSERT_OK(out_shape);
  std::vector<float> want(Elements(*out_shape));
  ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(want), PoolWithThreads(2)));
  const ComputePool& pool = PoolWithThreads(2);
  constexpr int kThreads = 4, kRunsPerThread = 5;
  std::vector<std::vector<float>> outputs(kThreads, std::vector<float>(want.size()));
  std::vector<absl::Status> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRunsPerThread && statuses[t].ok(); ++r) {
        statuses[t] = layer->Run(input, shape, absl::MakeSpan(outputs[t]), pool);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_OK(statuses[t]);
    EXPECT_EQ(0, std::memcmp(outputs[t].data(), want.data(), want.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace tconv::testing
