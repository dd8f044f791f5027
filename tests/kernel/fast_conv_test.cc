// The fast path against the reference, on every instruction set this CPU has (TCONV_ISA caps
// the kernels a layer picks when it is created), with 1 and several threads: random shapes,
// the shapes of the benchmark suite scaled down, the edges of the microkernel tiles, and batch
// invariance with tiles that span examples.
//
// Random cases are seeded from --gtest_random_seed (0 = the fixed default seed); a failure
// prints its seed and configuration, so `--gtest_random_seed=N --gtest_filter=...` replays it.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "conv2d_transpose_tester.h"
#include "gtest/gtest.h"
#include "isa_test.h"
#include "testing/layout.h"

namespace tconv::testing {
namespace {

using T = Conv2DTransposeTester;

// Layers created while the fixture is active use the parameter's kernels.
class FastConvTest : public IsaTest {
 protected:
  static uint64_t Seed() {
    const int seed = ::testing::UnitTest::GetInstance()->random_seed();
    return seed == 0 ? 20261125 : static_cast<uint64_t>(seed);
  }
};

// A random valid configuration: strides or dilation, both paddings, output_padding None, 0 or
// more, filter and channel counts on both sides of the vector widths.
T RandomTester(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  static constexpr int kFilters[] = {1, 2, 3, 4, 5, 7, 8, 16, 17, 24, 32, 33, 48, 64, 70, 130};
  static constexpr int kChannels[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 40, 64, 100};
  T t;
  const int kh = pick(1, 5), kw = pick(1, 5);
  t.input(pick(1, 3), pick(1, 9), pick(1, 9), kChannels[pick(0, 12)])
      .filters(kFilters[pick(0, 15)])
      .kernel(kh, kw)
      .padding(pick(0, 1) ? "same" : "valid")
      .use_bias(pick(0, 3) != 0)
      .seed(rng());
  int dh = 1, dw = 1, sh = 1, sw = 1;
  if (pick(0, 4) == 0) {
    dh = dw = pick(2, 3);
  } else {
    sh = pick(1, 4);
    sw = pick(1, 4);
  }
  t.strides(sh, sw).dilation(dh, dw);
  // output_padding < stride; invalid combinations (same + even kernel + 0) are skipped later.
  if (pick(0, 2) == 0) {
    t.output_padding(pick(0, sh - 1), pick(0, sw - 1));
  } else {
    t.output_padding_none();
  }
  return t;
}

TEST_P(FastConvTest, RandomShapesMatchReference) {
  std::mt19937_64 rng(Seed());
  SCOPED_TRACE("--gtest_random_seed=" + std::to_string(Seed()));
  int tested = 0;
  for (int i = 0; i < 120; ++i) {
    T t = RandomTester(rng);
    LayerConfig config = t.Config(DataFormat::kChannelsLast);
    if (!config.Validate().ok()) continue;  // e.g. same + even kernel + output_padding 0
    t.data_format(i % 4 == 0 ? DataFormat::kChannelsFirst : DataFormat::kChannelsLast);
    t.Test();
    ++tested;
    if (HasFailure()) break;
  }
  EXPECT_GE(tested, 60);
}

// Each shape of the benchmark suite (bench/suite.json) with its spatial size and channel counts
// cut down, so every code path the benchmark times is checked here.
TEST_P(FastConvTest, SuiteShapesMatchReference) {
  const T cases[] = {
      T().input(2, 7, 7, 40).filters(20).kernel(5, 5).strides(1, 1).padding("same"),  // dcgan_g1
      T().input(2, 7, 7, 24).filters(64).kernel(5, 5).strides(2, 2).padding("same"),  // dcgan_g2
      T().input(3, 14, 14, 64).filters(1).kernel(5, 5).strides(2, 2).padding("same"),
      T().input(2, 7, 7, 32).filters(64).kernel(3, 3).strides(2, 2).padding("same"),  // cvae_d1
      T().input(2, 28, 28, 32).filters(1).kernel(3, 3).padding("same"),               // cvae_d3
      T().input(5, 1, 1, 96).filters(160).kernel(4, 4).strides(2, 2).padding("same"),
      T().input(3, 2, 2, 80).filters(48).kernel(4, 4).strides(2, 2).padding("same"),  // pix2pix
      T().input(1, 20, 20, 32).filters(3).kernel(4, 4).strides(2, 2).padding("same"),
      T().input(2, 4, 4, 48).filters(96).kernel(3, 3).strides(2, 2).padding("same"),  // unet_up
      T().input(1, 16, 16, 160).filters(3).kernel(3, 3).strides(2, 2).padding("same"),
      T().input(2, 9, 9, 64).filters(32).kernel(3, 3).strides(2, 2).padding("same"),  // generic
      T().input(2, 9, 9, 64).filters(64).kernel(3, 3).strides(1, 1).padding("same"),
      T().input(2, 9, 9, 96).filters(128).kernel(2, 2).strides(2, 2).padding("same"),
  };
  for (const T& t : cases) {
    T(t).use_bias(true).data_format(DataFormat::kChannelsLast).Test();
    T(t).use_bias(false).data_format(DataFormat::kChannelsFirst).Test();
  }
}

// Layers whose packed weights exceed 24 MiB run one-tile blocks on the prefetching ("streaming")
// GEMM kernels (kernel/src/fast_tiled.cc, kCachedWeightBytes): pix2pix_up2's shape at batch 1
// (32 MiB, 4 pixels per phase), and a 1x1 input whose phases hold one pixel each.
TEST_P(FastConvTest, WeightStreamingLayersMatchReference) {
  T().input(1, 2, 2, 1024).filters(512).kernel(4, 4).strides(2, 2).padding("same").Test();
  T().input(1, 1, 1, 1040).filters(400).kernel(4, 4).strides(2, 2).padding("same").Test();
}

// Pixel counts around the tile heights, filter counts around the panel widths, channel counts
// around the vector widths (the dot kernels' masked tails), and taps that miss the input.
TEST_P(FastConvTest, TileEdgesMatchReference) {
  for (int filters : {1, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96}) {
    for (int channels : {1, 8, 9, 16, 17}) {
      for (int width : {1, 5, 13}) {
        T().input(2, 2, width, channels)
            .filters(filters)
            .kernel(3, 2)
            .strides(2, 3)
            .padding("valid")
            .data_format(DataFormat::kChannelsLast)
            .Test();
      }
    }
  }
  // A kernel smaller than the stride: rows and columns that only hold the bias.
  T().input(2, 3, 4, 5).filters(6).kernel(1, 2).strides(3, 4).padding("valid").Test();
  T().input(2, 3, 4, 5).filters(2).kernel(1, 2).strides(3, 4).padding("same").Test();
  // Dilation larger than the input: most taps miss.
  T().input(1, 2, 3, 9).filters(18).kernel(3, 3).dilation(3, 3).padding("same").Test();
}

// Tiles hold pixels of several examples when the spatial size is small; each example's output
// must still be bit-for-bit its output alone, for any batch and thread count.
TEST_P(FastConvTest, ExamplesInSharedTilesAreBatchInvariant) {
  for (int filters : {1, 3, 20, 64}) {
    for (int size : {1, 2, 3}) {
      std::mt19937_64 rng(Seed() + filters * 10 + size);
      const T t =
          T().input(1, size, size, 19).filters(filters).kernel(4, 4).strides(2, 2).padding("same");
      SCOPED_TRACE(t.Describe(DataFormat::kChannelsLast));
      auto layer = t.MakeLayer(DataFormat::kChannelsLast, rng);
      ASSERT_NE(layer, nullptr);
      constexpr int kBatch = 11;
      const Shape4 shape{kBatch, size, size, 19};
      const Shape4 out_shape = layer->OutputShape(shape).value();
      const int64_t in_size = Elements(shape) / kBatch, out_size = Elements(out_shape) / kBatch;
      const std::vector<float> input = RandomFloats(Elements(shape), 1.0f, rng);
      for (int threads : {1, 2, 3}) {
        std::vector<float> batched(Elements(out_shape));
        ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(batched), PoolWithThreads(threads)));
        for (int e = 0; e < kBatch; ++e) {
          std::vector<float> alone(out_size);
          ASSERT_OK(layer->Run(absl::MakeConstSpan(input).subspan(e * in_size, in_size),
                               {1, size, size, 19}, absl::MakeSpan(alone), PoolWithThreads(1)));
          EXPECT_EQ(0, std::memcmp(alone.data(), &batched[e * out_size], out_size * sizeof(float)))
              << "example " << e << " of " << kBatch << " with " << threads << " threads";
        }
      }
    }
  }
}

// channels_last calls larger than a core's L2 run as bands (kernel/src/fast_tiled.h,
// TiledConv::Bands), which the budget's 2 MiB ceiling forces on any CPU: groups of whole
// examples (24 of 150 KiB), and bands of output rows of one example (2.4 and 2.7 MiB per
// example; stride 3 and output padding put band edges inside a phase's rows). 1-3 threads: the
// bands shared by the threads, or one per thread. Against the reference in both data formats
// (channels_first runs the same bands, RunChannelsFirst), and each example bit for bit its
// result alone on one thread.
TEST_P(FastConvTest, CacheBandsMatchReferenceAndAreBatchInvariant) {
  const T cases[] = {
      T().input(24, 14, 14, 64).filters(32).kernel(3, 3).strides(2, 2).padding("same"),
      T().input(2, 56, 56, 64).filters(32).kernel(3, 3).strides(2, 2).padding("same"),
      T().input(2, 61, 37, 48).filters(40).kernel(4, 3).strides(3, 2).output_padding(2, 1),
  };
  for (const T& t : cases) {
    T(t).threads({1, 2, 3}).data_format(DataFormat::kChannelsLast).Test();
    T(t).threads({1, 2, 3}).data_format(DataFormat::kChannelsFirst).Test();
    SCOPED_TRACE(t.Describe(DataFormat::kChannelsLast));
    std::mt19937_64 rng(Seed());
    auto layer = t.MakeLayer(DataFormat::kChannelsLast, rng);
    ASSERT_NE(layer, nullptr);
    const Shape4 shape = t.InputShape(DataFormat::kChannelsLast);
    const Shape4 out_shape = layer->OutputShape(shape).value();
    const int64_t batch = shape[0];
    const int64_t in_size = Elements(shape) / batch, out_size = Elements(out_shape) / batch;
    const std::vector<float> input = RandomFloats(Elements(shape), 1.0f, rng);
    std::vector<std::vector<float>> alone(batch, std::vector<float>(out_size));
    for (int64_t e = 0; e < batch; ++e) {
      ASSERT_OK(layer->Run(absl::MakeConstSpan(input).subspan(e * in_size, in_size),
                           {1, shape[1], shape[2], shape[3]}, absl::MakeSpan(alone[e]),
                           PoolWithThreads(1)));
    }
    for (int threads : {1, 2, 3}) {
      std::vector<float> batched(Elements(out_shape));
      ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(batched), PoolWithThreads(threads)));
      for (int64_t e = 0; e < batch; ++e) {
        ASSERT_EQ(0, std::memcmp(alone[e].data(), &batched[e * out_size], out_size * sizeof(float)))
            << "example " << e << " of " << batch << " with " << threads << " threads";
      }
    }
  }
}

// Layers with 1-4 filters take the col path (kernel/src/fast_col.cc): random shapes of their
// own, since only a quarter of the shapes above have so few filters, and inputs large enough
// for several GEMM work items per call.
TEST_P(FastConvTest, FewFilterRandomShapesMatchReference) {
  std::mt19937_64 rng(Seed() + 1);
  SCOPED_TRACE("--gtest_random_seed=" + std::to_string(Seed()));
  int tested = 0;
  for (int i = 0; i < 120; ++i) {
    T t = RandomTester(rng);
    t.filters(std::uniform_int_distribution<int>(1, 4)(rng));
    if (i % 8 == 0) t.input(2, 17 + i % 5, 23, 33);  // > 500 input pixels: many GEMM items
    if (!t.Config(DataFormat::kChannelsLast).Validate().ok()) continue;
    t.data_format(i % 4 == 0 ? DataFormat::kChannelsFirst : DataFormat::kChannelsLast);
    t.Test();
    ++tested;
    if (HasFailure()) break;
  }
  EXPECT_GE(tested, 60);
}

// The col path splits a batch whose col matrix exceeds 2 MiB into passes of whole examples
// (here 2, 2 and 1); each example's output must not depend on its pass, batch or thread count.
TEST_P(FastConvTest, FewFilterPassesAreBatchInvariant) {
  std::mt19937_64 rng(Seed() + 2);
  // 25 taps pad to 32 col columns for every kernel set: 80 * 80 * 32 floats = 0.8 MiB.
  const T t = T().input(1, 80, 80, 3).filters(1).kernel(5, 5).padding("same");
  SCOPED_TRACE(t.Describe(DataFormat::kChannelsLast));
  auto layer = t.MakeLayer(DataFormat::kChannelsLast, rng);
  ASSERT_NE(layer, nullptr);
  constexpr int kBatch = 5;
  const Shape4 one{1, 80, 80, 3}, shape{kBatch, 80, 80, 3};
  const int64_t in_size = Elements(one), out_size = Elements(layer->OutputShape(one).value());
  const std::vector<float> input = RandomFloats(Elements(shape), 1.0f, rng);
  std::vector<float> alone(out_size), batched(kBatch * out_size);
  for (int threads : {1, 2}) {
    ASSERT_OK(layer->Run(input, shape, absl::MakeSpan(batched), PoolWithThreads(threads)));
    for (int e = 0; e < kBatch; ++e) {
      ASSERT_OK(layer->Run(absl::MakeConstSpan(input).subspan(e * in_size, in_size), one,
                           absl::MakeSpan(alone), PoolWithThreads(1)));
      EXPECT_EQ(0, std::memcmp(alone.data(), &batched[e * out_size], out_size * sizeof(float)))
          << "example " << e << " of " << kBatch << " with " << threads << " threads";
    }
  }
  // Passes of one example each, and the fallback for an example whose col matrix would exceed
  // 256 MiB (8 * 8 * 4 = 256 columns per input pixel).
  T().input(3, 160, 160, 2).filters(1).kernel(5, 5).padding("same").Test();
  T().input(1, 513, 512, 1).filters(4).kernel(8, 8).padding("valid").Test();
}

// channels_first computes the same sums in the same order as channels_last (the col path's
// transposed GEMM; the tiled path's NHWC copy of the input and staged NCHW writes), so its answer
// is channels_last's, transposed, bit for bit: random shapes, half of them with the col path's 1-4
// filters, and batches that the col path splits into passes.
TEST_P(FastConvTest, ChannelsFirstIsChannelsLastTransposedBitwise) {
  std::mt19937_64 rng(Seed() + 3);
  SCOPED_TRACE("--gtest_random_seed=" + std::to_string(Seed()));
  std::vector<T> cases;
  for (int i = 0; i < 60; ++i) {
    T t = RandomTester(rng);
    if (i % 2 == 0) t.filters(std::uniform_int_distribution<int>(1, 4)(rng));
    if (i % 10 == 0) t.input(3, 19, 23, 33);
    if (t.Config(DataFormat::kChannelsLast).Validate().ok()) cases.push_back(t);
  }
  cases.push_back(T().input(5, 80, 80, 3).filters(1).kernel(5, 5).padding("same"));
  cases.push_back(T().input(2, 7, 7, 200).filters(3).kernel(4, 4).strides(2, 2).padding("same"));
  // The tiled path's two ways to NCHW (fast_tiled.cc, kMinStagedMacs): 64 * 9 multiply-adds per
  // output element (staged per work item), and 32 * 9 / 4 (transposed after the run).
  cases.push_back(T().input(2, 9, 9, 64).filters(70).kernel(3, 3).padding("same"));
  cases.push_back(T().input(2, 7, 7, 32).filters(40).kernel(3, 3).strides(2, 2).padding("same"));
  // Batches long enough to run as chunks of examples, one thread each (RunChannelsFirst):
  // 2-3 chunks with the AVX-512 and AVX2 kernels (48 filters: 16 and 24 wide panels), of
  // unequal length (23 examples), staged and transposed; and a staged output of 4 pixels per
  // channel, scattered pixel by pixel (ScatterToChannelsFirst).
  cases.push_back(T().input(23, 7, 7, 64).filters(48).kernel(3, 3).padding("same"));
  cases.push_back(T().input(24, 7, 7, 32).filters(48).kernel(3, 3).strides(2, 2).padding("same"));
  cases.push_back(T().input(5, 1, 1, 512).filters(40).kernel(4, 4).strides(2, 2).padding("same"));
  // Few examples at 2 threads: bands of output rows, one per thread (RunChannelsFirst), of
  // unequal height (31 rows), staged and transposed, with dilation and output padding.
  cases.push_back(T().input(1, 15, 9, 48).filters(48).kernel(3, 3).strides(2, 2));
  cases.push_back(T().input(1, 13, 11, 64).filters(48).kernel(3, 3).padding("same"));
  cases.push_back(T().input(2, 11, 10, 40).filters(24).kernel(3, 3).dilation(2, 2));
  cases.push_back(
      T().input(1, 9, 12, 32).filters(40).kernel(4, 3).strides(3, 2).output_padding(2, 1));
  // A band that reads no input row: stride 4 over a 1-row kernel and 3 rows of output padding
  // leave output rows 1-3 with no tap, so the second thread's band (rows 2-3) is bias only.
  cases.push_back(
      T().input(1, 1, 48, 64).filters(64).kernel(1, 3).strides(4, 1).output_padding(3, 0));
  // Calls larger than the L2 (whose budget is at most 2 MiB): channels_first runs the channels_last
  // call's bands of output rows (2.4 and 2.7 MiB per example), one per thread or shared.
  cases.push_back(T().input(2, 56, 56, 64).filters(32).kernel(3, 3).strides(2, 2).padding("same"));
  cases.push_back(
      T().input(2, 61, 37, 48).filters(40).kernel(4, 3).strides(3, 2).output_padding(2, 1));
  // The col path's channels_first side (kernel/src/fast_col.cc): phases longer than the
  // gather's 256-pixel span (300 and 260 columns), with edge columns on both sides; examples
  // of 15 pixels, so a pack group's runs end at examples and at panels.
  cases.push_back(T().input(1, 2, 300, 8).filters(2).kernel(3, 3).padding("same"));
  cases.push_back(T().input(1, 3, 260, 8).filters(3).kernel(4, 4).strides(2, 2).padding("same"));
  cases.push_back(T().input(9, 3, 5, 20).filters(2).kernel(3, 3).strides(2, 2).padding("same"));
  // 512 channels and 3 filters: the dot kernels (kernel/src/fast_col.cc, ColPathPays) on
  // AVX2 and scalar.
  cases.push_back(T().input(2, 3, 5, 520).filters(3).kernel(3, 3).strides(2, 2).padding("same"));
  for (const T& t : cases) {
    SCOPED_TRACE(t.Describe(DataFormat::kChannelsFirst));
    const uint64_t weight_seed = rng();
    std::mt19937_64 last_rng(weight_seed), first_rng(weight_seed);
    auto last = t.MakeLayer(DataFormat::kChannelsLast, last_rng);
    auto first = t.MakeLayer(DataFormat::kChannelsFirst, first_rng);
    ASSERT_NE(last, nullptr);
    ASSERT_NE(first, nullptr);
    const Shape4 nhwc = t.InputShape(DataFormat::kChannelsLast);
    const Shape4 nchw = t.InputShape(DataFormat::kChannelsFirst);
    const std::vector<float> input = RandomFloats(Elements(nhwc), 1.0f, rng);
    const std::vector<float> input_nchw =
        TransposeExamples(input, nhwc[0], nhwc[1] * nhwc[2], nhwc[3]);
    const Shape4 out = last->OutputShape(nhwc).value();
    std::vector<float> got_last(Elements(out)), got_first(Elements(out));
    for (int threads : {1, 2}) {
      ASSERT_OK(last->Run(input, nhwc, absl::MakeSpan(got_last), PoolWithThreads(threads)));
      // Every element must be written by this run.
      std::fill(got_first.begin(), got_first.end(), std::numeric_limits<float>::quiet_NaN());
      ASSERT_OK(first->Run(input_nchw, nchw, absl::MakeSpan(got_first), PoolWithThreads(threads)));
      const std::vector<float> want = TransposeExamples(got_last, out[0], out[1] * out[2], out[3]);
      ASSERT_EQ(0, std::memcmp(want.data(), got_first.data(), want.size() * sizeof(float)))
          << threads << " threads";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, FastConvTest, AllIsas(),
                         [](const ::testing::TestParamInfo<std::string>& isa) {
                           return isa.param;
                         });

}  // namespace
}  // namespace tconv::testing
