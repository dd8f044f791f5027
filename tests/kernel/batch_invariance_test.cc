// Batch invariance: an example's output is bit-for-bit the same whether it runs alone or
// inside a batch with other examples, and for any thread count (the server merges requests
// into batches; an answer must never depend on who else was in the batch).
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "conv2d_transpose_tester.h"
#include "gtest/gtest.h"

namespace tconv::testing {
namespace {

using T = Conv2DTransposeTester;

struct NamedLayer {
  std::string name;
  Conv2DTransposeTester tester;  // the input's batch size is ignored here
  DataFormat format;
};

std::string LayerName(const ::testing::TestParamInfo<NamedLayer>& layer) {
  return layer.param.name;
}

class BatchInvarianceTest : public ::testing::TestWithParam<NamedLayer> {};

TEST_P(BatchInvarianceTest, ExampleAloneEqualsExampleInAnyBatchAndThreadCount) {
  const NamedLayer& param = GetParam();
  std::mt19937_64 rng(7);
  auto layer = param.tester.MakeLayer(param.format, rng);
  ASSERT_NE(layer, nullptr);
  const Shape4 one = param.tester.InputShape(param.format);
  ASSERT_EQ(one[0], 1);
  auto out_one = layer->OutputShape(one);
  ASSERT_OK(out_one);
  const int64_t in_size = Elements(one), out_size = Elements(*out_one);

  constexpr int kExamples = 9;
  const std::vector<float> inputs = RandomFloats(kExamples * in_size, 1.0f, rng);
  // Each example alone, one thread: the answer every batch must reproduce bit for bit.
  std::vector<float> alone(kExamples * out_size);
  for (int e = 0; e < kExamples; ++e) {
    ASSERT_OK(layer->Run(absl::MakeConstSpan(inputs).subspan(e * in_size, in_size), one,
                         absl::MakeSpan(alone).subspan(e * out_size, out_size),
                         PoolWithThreads(1)));
  }
  for (int threads : {1, 2, 4}) {
    for (int batch = 2; batch <= kExamples; ++batch) {
      // A random choice of examples, in random order, repeats allowed.
      std::vector<int> picks(batch);
      for (int& p : picks) p = std::uniform_int_distribution<int>(0, kExamples - 1)(rng);
      std::vector<float> input;
      for (int p : picks) {
        input.insert(input.end(), inputs.begin() + p * in_size, inputs.begin() + (p + 1) * in_size);
      }
      Shape4 shape = one;
      shape[0] = batch;
      std::vector<float> output(batch * out_size);
      ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(output), PoolWithThreads(threads)));
      for (int i = 0; i < batch; ++i) {
        EXPECT_EQ(0, std::memcmp(&output[i * out_size], &alone[picks[i] * out_size],
                                 out_size * sizeof(float)))
            << "example " << picks[i] << " at position " << i << " of a batch of " << batch
            << " with " << threads << " threads differs from the example run alone";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layers, BatchInvarianceTest,
    ::testing::Values(
        NamedLayer{"k3s2_same_cl",
                   T().input(1, 5, 6, 7).filters(9).kernel(3, 3).strides(2, 2).padding("same"),
                   DataFormat::kChannelsLast},
        NamedLayer{"k3s2_same_cf",
                   T().input(1, 5, 6, 7).filters(9).kernel(3, 3).strides(2, 2).padding("same"),
                   DataFormat::kChannelsFirst},
        NamedLayer{"softmax_cl",
                   T().input(1, 4, 4, 5)
                       .filters(6)
                       .kernel(4, 4)
                       .strides(2, 2)
                       .padding("same")
                       .activation(Activation::kSoftmax),
                   DataFormat::kChannelsLast},
        NamedLayer{"softmax_cf",
                   T().input(1, 4, 4, 5)
                       .filters(6)
                       .kernel(4, 4)
                       .strides(2, 2)
                       .padding("same")
                       .activation(Activation::kSoftmax),
                   DataFormat::kChannelsFirst},
        NamedLayer{"dcgan_g1_like",
                   T().input(1, 7, 7, 64).filters(32).kernel(5, 5).padding("same").use_bias(false),
                   DataFormat::kChannelsLast},
        NamedLayer{"few_filters_gelu",
                   T().input(1, 14, 14, 16)
                       .filters(1)
                       .kernel(5, 5)
                       .strides(2, 2)
                       .padding("same")
                       .activation(Activation::kGelu),
                   DataFormat::kChannelsLast},
        NamedLayer{"dilated_valid_cf",
                   T().input(1, 6, 5, 3)
                       .filters(4)
                       .kernel(3, 3)
                       .dilation(2, 2)
                       .activation(Activation::kTanh),
                   DataFormat::kChannelsFirst},
        NamedLayer{"large_output_k4s2",
                   T().input(1, 16, 16, 32)
                       .filters(24)
                       .kernel(4, 4)
                       .strides(2, 2)
                       .padding("same")
                       .activation(Activation::kSigmoid),
                   DataFormat::kChannelsLast}),
    LayerName);

}  // namespace
}  // namespace tconv::testing
