#include "reference.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tconv::internal {
namespace {

// Sizes along one spatial axis (spec notation: n, k, s, d, L, o, t).
struct Axis {
  int64_t n;       // input length
  int64_t k;       // kernel size
  int64_t s;       // stride
  int64_t d;       // dilation
  int64_t full;    // L = (n - 1) * s + (k - 1) * d + 1, the uncropped scatter length
  int64_t out;     // o, the layer's output length (spec §3.1)
  int64_t offset;  // t, where the output window starts in `full` (spec §3.2)
};

Axis MakeAxis(const LayerConfig& config, int axis, int64_t n) {
  Axis a;
  a.n = n;
  a.k = config.kernel_size[axis];
  a.s = config.strides[axis];
  a.d = config.dilation_rate[axis];
  a.full = (n - 1) * a.s + (a.k - 1) * a.d + 1;
  a.out = config.OutputLength(n, axis);
  a.offset = config.padding == Padding::kSame ? std::max<int64_t>(0, a.full - a.out) / 2 : 0;
  return a;
}

}  // namespace

void ReferenceConv2DTranspose(const LayerConfig& config, const LayerWeights& weights,
                              const float* input, const Shape4& input_shape, float* output) {
  const bool channels_last = config.data_format == DataFormat::kChannelsLast;
  const int64_t batch = input_shape[0];
  const int64_t channels = channels_last ? input_shape[3] : input_shape[1];
  const Axis h = MakeAxis(config, 0, channels_last ? input_shape[1] : input_shape[2]);
  const Axis w = MakeAxis(config, 1, channels_last ? input_shape[2] : input_shape[3]);
  const int64_t filters = config.filters;

  // Element offsets in the layer's data_format.
  auto input_at = [&](int64_t b, int64_t i, int64_t j, int64_t c) {
    return channels_last ? ((b * h.n + i) * w.n + j) * channels + c
                         : ((b * channels + c) * h.n + i) * w.n + j;
  };
  auto output_at = [&](int64_t b, int64_t y, int64_t x, int64_t f) {
    return channels_last ? ((b * h.out + y) * w.out + x) * filters + f
                         : ((b * filters + f) * h.out + y) * w.out + x;
  };
  // Keras kernel layout (kh, kw, filters, in_channels).
  auto kernel_at = [&](int64_t p, int64_t q, int64_t f, int64_t c) {
    return ((p * w.k + q) * filters + f) * channels + c;
  };

  std::vector<double> full(static_cast<size_t>(h.full * w.full * filters));
  for (int64_t b = 0; b < batch; ++b) {
    // Scatter: input pixel (i, j) adds sum_c input[b, i, j, c] * kernel[p, q, f, c] at
    // (i*s + p*d, j*s + q*d). The sum over c runs innermost (contiguous in the kernel).
    std::fill(full.begin(), full.end(), 0.0);
    for (int64_t i = 0; i < h.n; ++i) {
      for (int64_t j = 0; j < w.n; ++j) {
        for (int64_t p = 0; p < h.k; ++p) {
          for (int64_t q = 0; q < w.k; ++q) {
            const int64_t y = i * h.s + p * h.d;
            const int64_t x = j * w.s + q * w.d;
            for (int64_t f = 0; f < filters; ++f) {
              double sum = 0;
              for (int64_t c = 0; c < channels; ++c) {
                sum += double{input[input_at(b, i, j, c)]} * weights.kernel[kernel_at(p, q, f, c)];
              }
              full[static_cast<size_t>((y * w.full + x) * filters + f)] += sum;
            }
          }
        }
      }
    }
    // Window: out[y] = full[y + t] where that exists, else 0; then the bias.
    for (int64_t y = 0; y < h.out; ++y) {
      for (int64_t x = 0; x < w.out; ++x) {
        const int64_t fy = y + h.offset;
        const int64_t fx = x + w.offset;
        const bool inside = fy < h.full && fx < w.full;
        for (int64_t f = 0; f < filters; ++f) {
          double value = inside ? full[static_cast<size_t>((fy * w.full + fx) * filters + f)] : 0.0;
          if (config.use_bias) value += weights.bias[f];
          output[output_at(b, y, x, f)] = static_cast<float>(value);
        }
      }
    }
  }
}

}  // namespace tconv::internal
