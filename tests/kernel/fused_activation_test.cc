// The ReLU that the fast path applies in its microkernels' stores (small layers, GemmTapsFn)
// must give the bits of the separate activation pass: the same layer with activation linear,
// then x > 0 ? x : 0 per element, NaN and infinities included, on every instruction set this
// CPU has, channels_last and channels_first, 1 and 2 threads.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "isa_test.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv {
namespace {

struct Case {
  int64_t batch, size, channels, filters, kernel, stride;
  DataFormat format;
};

using FusedActivationTest = testing::IsaTest;

std::vector<float> RunLayer(const LayerConfig& config, const LayerWeights& weights, const Case& c,
                            const std::vector<float>& input, int threads) {
  auto layer = Conv2DTranspose::Create(config, c.channels, weights);
  EXPECT_TRUE(layer.ok()) << layer.status();
  const bool last = c.format == DataFormat::kChannelsLast;
  const Shape4 shape = last ? Shape4{c.batch, c.size, c.size, c.channels}
                            : Shape4{c.batch, c.channels, c.size, c.size};
  auto output_shape = (*layer)->OutputShape(shape);
  EXPECT_TRUE(output_shape.ok()) << output_shape.status();
  int64_t elements = 1;
  for (int64_t d : *output_shape) elements *= d;
  std::vector<float> output(elements);
  auto pool = ComputePool::Create({threads});
  EXPECT_TRUE(pool.ok());
  EXPECT_TRUE((*layer)->Run(input, shape, absl::MakeSpan(output), **pool).ok());
  return output;
}

TEST_P(FusedActivationTest, ReluInTheKernelIsTheReluPass) {
  // cvae_d1 and cvae_d2 scaled as in the suite, and layers that fuse on AVX2's narrower panels.
  const Case cases[] = {{3, 7, 32, 64, 3, 2, DataFormat::kChannelsLast},
                        {2, 14, 64, 32, 3, 2, DataFormat::kChannelsLast},
                        {2, 6, 16, 20, 3, 2, DataFormat::kChannelsLast},
                        {3, 5, 24, 70, 2, 2, DataFormat::kChannelsLast},
                        {2, 7, 32, 64, 3, 2, DataFormat::kChannelsFirst},
                        {2, 9, 8, 24, 3, 1, DataFormat::kChannelsFirst}};
  for (const Case& c : cases) {
    LayerConfig config;
    config.filters = c.filters;
    config.kernel_size = {c.kernel, c.kernel};
    config.strides = {c.stride, c.stride};
    config.padding = Padding::kSame;
    config.data_format = c.format;
    config.bias_initializer = {R"({"class_name":"RandomNormal","config":{"seed":3}})"};
    auto weights = InitializeWeights(config, c.channels, 7);
    ASSERT_TRUE(weights.ok()) << weights.status();
    std::vector<float> input(c.batch * c.size * c.size * c.channels);
    for (size_t i = 0; i < input.size(); ++i) input[i] = float(int(i * 7919 % 23) - 11) * 0.125f;
    for (size_t i = 0; i < input.size(); i += 97)
      input[i] = std::numeric_limits<float>::quiet_NaN();
    for (size_t i = 5; i < input.size(); i += 89) input[i] = std::numeric_limits<float>::infinity();

    std::vector<float> expected = RunLayer(config, *weights, c, input, 1);
    for (float& x : expected) x = x > 0.0f ? x : 0.0f;
    config.activation = Activation::kRelu;
    for (int threads : {1, 2}) {
      const std::vector<float> got = RunLayer(config, *weights, c, input, threads);
      ASSERT_EQ(got.size(), expected.size());
      EXPECT_EQ(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)), 0)
          << GetParam() << ": batch " << c.batch << ", " << c.size << "x" << c.size << "x"
          << c.channels << " -> " << c.filters << ", kernel " << c.kernel << ", stride " << c.stride
          << ", " << threads << " threads";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, FusedActivationTest, testing::AllIsas());

}  // namespace
}  // namespace tconv
