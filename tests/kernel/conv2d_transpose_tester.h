// Conv2DTransposeTester: a fluent description of one layer + input that checks the fast path
// against the reference (which carries the spec's plain loops), in both data formats and with
// 1 and several threads:
//
//   Conv2DTransposeTester().input(2, 7, 7, 3).filters(4).kernel(5, 5).strides(2, 2)
//       .padding("same").activation(Activation::kGelu).Test();
//
// Sizes are logical (batch, height, width, channels) whatever the data_format. Weights and
// input are drawn from a seeded generator, so a failure replays exactly.
#ifndef TCONV_TESTS_KERNEL_CONV2D_TRANSPOSE_TESTER_H_
#define TCONV_TESTS_KERNEL_CONV2D_TRANSPOSE_TESTER_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"
#include "testing/status_matchers.h"

namespace tconv::testing {

// The conformance tolerance (tests/conformance): |got - want| <= 1e-4 + 1e-4 * |want|.
inline bool WithinConformanceTolerance(float got, float want) {
  return std::isfinite(got) && std::fabs(double{got} - want) <= 1e-4 + 1e-4 * std::fabs(want);
}

// A pool per thread count, created once per process (pools own threads).
inline const ComputePool& PoolWithThreads(int threads) {
  static auto* pools = new std::vector<std::unique_ptr<ComputePool>>(65);
  std::unique_ptr<ComputePool>& pool = (*pools)[threads];
  if (!pool) pool = ComputePool::Create({threads}).value();
  return *pool;
}

inline std::vector<float> RandomFloats(size_t n, float scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

inline int64_t Elements(const Shape4& shape) { return shape[0] * shape[1] * shape[2] * shape[3]; }

class Conv2DTransposeTester {
 public:
  Conv2DTransposeTester& input(int64_t batch, int64_t height, int64_t width, int64_t channels) {
    batch_ = batch;
    height_ = height;
    width_ = width;
    channels_ = channels;
    return *this;
  }
  Conv2DTransposeTester& filters(int64_t f) {
    config_.filters = f;
    return *this;
  }
  Conv2DTransposeTester& kernel(int64_t kh, int64_t kw) {
    config_.kernel_size = {kh, kw};
    return *this;
  }
  Conv2DTransposeTester& strides(int64_t sh, int64_t sw) {
    config_.strides = {sh, sw};
    return *this;
  }
  Conv2DTransposeTester& dilation(int64_t dh, int64_t dw) {
    config_.dilation_rate = {dh, dw};
    return *this;
  }
  Conv2DTransposeTester& padding(std::string_view p) {
    config_.padding = p == "same" ? Padding::kSame : Padding::kValid;
    return *this;
  }
  Conv2DTransposeTester& output_padding(int64_t oh, int64_t ow) {
    config_.output_padding = Pair{oh, ow};
    return *this;
  }
  Conv2DTransposeTester& output_padding_none() {
    config_.output_padding.reset();
    return *this;
  }
  Conv2DTransposeTester& activation(Activation a) {
    config_.activation = a;
    return *this;
  }
  Conv2DTransposeTester& use_bias(bool b) {
    config_.use_bias = b;
    return *this;
  }
  // Tests only this format (default: both).
  Conv2DTransposeTester& data_format(DataFormat f) {
    format_ = f;
    return *this;
  }
  Conv2DTransposeTester& seed(uint64_t s) {
    seed_ = s;
    return *this;
  }
  // Thread counts to run the fast path with (default 1 and 3).
  Conv2DTransposeTester& threads(std::vector<int> t) {
    threads_ = std::move(t);
    return *this;
  }

  LayerConfig Config(DataFormat format) const {
    LayerConfig config = config_;
    config.data_format = format;
    return config;
  }
  Shape4 InputShape(DataFormat format) const {
    return format == DataFormat::kChannelsLast ? Shape4{batch_, height_, width_, channels_}
                                               : Shape4{batch_, channels_, height_, width_};
  }
  // Weights scaled like Glorot so outputs stay O(1) and float rounding far inside tolerance.
  LayerWeights RandomWeights(std::mt19937_64& rng) const {
    const Pair& k = config_.kernel_size;
    const float scale = 1.0f / std::sqrt(static_cast<float>(k[0] * k[1] * channels_));
    LayerWeights weights;
    weights.kernel = RandomFloats(k[0] * k[1] * config_.filters * channels_, scale, rng);
    if (config_.use_bias) weights.bias = RandomFloats(config_.filters, 0.5f, rng);
    return weights;
  }
  std::shared_ptr<const Conv2DTranspose> MakeLayer(DataFormat format, std::mt19937_64& rng) const {
    auto layer = Conv2DTranspose::Create(Config(format), channels_, RandomWeights(rng));
    EXPECT_TRUE(layer.ok()) << layer.status() << " for " << Describe(format);
    return layer.ok() ? *layer : nullptr;
  }

  std::string Describe(DataFormat format) const {
    const LayerConfig c = Config(format);
    std::ostringstream out;
    out << "input " << batch_ << "x" << height_ << "x" << width_ << "x" << channels_ << " filters "
        << c.filters << " kernel " << c.kernel_size[0] << "x" << c.kernel_size[1] << " strides "
        << c.strides[0] << "x" << c.strides[1] << " dilation " << c.dilation_rate[0] << "x"
        << c.dilation_rate[1] << " " << PaddingName(c.padding) << " output_padding ";
    if (c.output_padding) {
      out << (*c.output_padding)[0] << "x" << (*c.output_padding)[1];
    } else {
      out << "None";
    }
    out << " " << DataFormatName(format) << " " << ActivationName(c.activation)
        << (c.use_bias ? "" : " no-bias") << " seed " << seed_;
    return out.str();
  }

  void Test() const {
    for (DataFormat format : {DataFormat::kChannelsLast, DataFormat::kChannelsFirst}) {
      if (!format_ || *format_ == format) TestFormat(format);
    }
  }

 private:
  void TestFormat(DataFormat format) const {
    SCOPED_TRACE(Describe(format));
    std::mt19937_64 rng(seed_);
    auto layer = MakeLayer(format, rng);
    if (!layer) return;
    const Shape4 input_shape = InputShape(format);
    const std::vector<float> input = RandomFloats(Elements(input_shape), 1.0f, rng);
    auto output_shape = layer->OutputShape(input_shape);
    ASSERT_OK(output_shape);
    std::vector<float> want(Elements(*output_shape));
    ASSERT_OK(layer->Run(input, input_shape, absl::MakeSpan(want), PoolWithThreads(1),
                         Implementation::kReference));
    std::vector<float> first;
    for (int threads : threads_) {
      std::vector<float> got(want.size(), std::nanf(""));
      ASSERT_OK(layer->Run(input, input_shape, absl::MakeSpan(got), PoolWithThreads(threads)));
      ExpectClose(got, want, threads);
      if (first.empty()) {
        first = got;
      } else {
        EXPECT_EQ(0, std::memcmp(first.data(), got.data(), got.size() * sizeof(float)))
            << "fast path with " << threads << " threads differs bitwise from " << threads_.front();
      }
    }
  }

  static void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                          int threads) {
    int64_t bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (WithinConformanceTolerance(got[i], want[i])) continue;
      if (++bad <= 3) {
        ADD_FAILURE() << "element " << i << ": fast " << got[i] << ", reference " << want[i] << " ("
                      << threads << " threads)";
      }
    }
    EXPECT_EQ(bad, 0) << "of " << want.size() << " elements";
  }

  int64_t batch_ = 1, height_ = 3, width_ = 3, channels_ = 2;
  LayerConfig config_ = [] {
    LayerConfig c;
    c.filters = 2;
    c.kernel_size = {3, 3};
    return c;
  }();
  std::optional<DataFormat> format_;
  uint64_t seed_ = 1;
  std::vector<int> threads_ = {1, 3};
};

}  // namespace tconv::testing

#endif  // TCONV_TESTS_KERNEL_CONV2D_TRANSPOSE_TESTER_H_
