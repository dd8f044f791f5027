#include "fast_pack.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace tconv::internal {
namespace {

constexpr int64_t kAlignment = 64;

// The bias as start values. -0.0 becomes +0.0: an accumulator that starts at +0 can never be
// -0 again, so adding the +-0 products of a zero-padding row leaves it bit-identical, and
// skipping such rows (which tiles do depending on their neighbours) cannot change a result.
void FillBias(const LayerWeights& weights, AlignedFloats& bias) {
  for (size_t f = 0; f < weights.bias.size(); ++f) {
    bias.data()[f] = weights.bias[f] == 0.0f ? 0.0f : weights.bias[f];
  }
}

}  // namespace

AlignedFloats::AlignedFloats(int64_t size) : size_(size) {
  const size_t bytes =
      (static_cast<size_t>(std::max<int64_t>(size, 1)) * sizeof(float) + kAlignment - 1) /
      kAlignment * kAlignment;
  float* p = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_.reset(p);
}

PackedWeights PackForGemm(const LayerWeights& weights, int64_t taps, int64_t filters,
                          int64_t channels, int64_t nr) {
  const int64_t blocks = (filters + nr - 1) / nr;
  PackedWeights packed{AlignedFloats(taps * blocks * channels * nr), AlignedFloats(blocks * nr)};
  const float* kernel = weights.kernel.data();
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t f = 0; f < filters; ++f) {
      const int64_t j = f / nr, n = f % nr;
      float* panel = packed.kernel.data() + (t * blocks + j) * channels * nr;
      const float* src = kernel + (t * filters + f) * channels;
      for (int64_t c = 0; c < channels; ++c) panel[c * nr + n] = src[c];
    }
  }
  FillBias(weights, packed.bias);
  return packed;
}

PackedWeights PackForDot(const LayerWeights& weights, int64_t taps, int64_t filters,
                         int64_t channels) {
  PackedWeights packed{AlignedFloats(taps * filters * channels), AlignedFloats(filters)};
  std::copy(weights.kernel.begin(), weights.kernel.end(), packed.kernel.data());
  FillBias(weights, packed.bias);
  return packed;
}

}  // namespace tconv::internal
