#include "activations.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <utility>

#include "fast_isa.h"
#include "parallel.h"

namespace tconv::internal {
namespace {

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double Softplus(double x) {
  if (x > -kSoftplusThreshold) return x;
  if (x < kSoftplusThreshold) return std::exp(x);
  return std::log1p(std::exp(x));
}

// Softmax of one row: exp(x - max) / sum, with the sum in double.
void SoftmaxRow(float* row, int64_t n) {
  const float max = *std::max_element(row, row + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    row[i] = std::exp(row[i] - max);
    sum += row[i];
  }
  const double inverse = 1.0 / sum;
  for (int64_t i = 0; i < n; ++i) row[i] = static_cast<float>(row[i] * inverse);
}

// Elements per parallel task: large enough that scheduling costs stay negligible, small
// enough that a large output (e.g. 256x256x64) is spread over the pool.
constexpr int64_t kElementsPerTask = 1 << 14;

// Evaluated in double and rounded to float once: a pure function of the element, so the
// result does not depend on where or alongside what it runs.
float ActivateElement(Activation activation, float value) {
  const double x = value;
  switch (activation) {
    case Activation::kLinear:
    case Activation::kSoftmax:  // a row operation, see ApplyActivation
      return value;
    case Activation::kRelu:
      return value > 0.0f ? value : 0.0f;
    case Activation::kElu:
      return static_cast<float>(x > 0 ? x : std::expm1(x));
    case Activation::kSelu:
      return static_cast<float>(kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x)));
    case Activation::kSoftplus:
      return static_cast<float>(Softplus(x));
    case Activation::kSoftsign:
      return static_cast<float>(x / (1.0 + std::fabs(x)));
    case Activation::kTanh:
      return static_cast<float>(std::tanh(x));
    case Activation::kSigmoid:
      return static_cast<float>(Sigmoid(x));
    case Activation::kHardSigmoid:  // TF 2.x: slope 0.2 (Keras 3 changed it to 1/6)
      return static_cast<float>(std::clamp(0.2 * x + 0.5, 0.0, 1.0));
    case Activation::kExponential:
      return static_cast<float>(std::exp(x));
    case Activation::kSwish:
      return static_cast<float>(x * Sigmoid(x));
    case Activation::kGelu:  // exact (approximate=False), what the string "gelu" means
      return static_cast<float>(0.5 * x * (1.0 + std::erf(x / kSqrt2)));
  }
  return value;
}

// ActivateElement over a range, instantiated per activation so that the switch folds away and
// the cheap ones vectorise (relu over a cvae_d1 output at batch 8: 100 us -> ~10 us).
template <Activation kActivation>
void ActivateRange(float* first, float* last) {
  for (float* p = first; p != last; ++p) *p = ActivateElement(kActivation, *p);
}

using RangeFn = void (*)(float* first, float* last);

template <size_t... kIndex>
constexpr std::array<RangeFn, sizeof...(kIndex)> RangeFns(std::index_sequence<kIndex...>) {
  return {&ActivateRange<static_cast<Activation>(kIndex)>...};
}

// Indexed by the enum's value; kGelu is its last.
constexpr auto kRangeFns = RangeFns(std::make_index_sequence<size_t(Activation::kGelu) + 1>());

}  // namespace

void ApplyActivation(Activation activation, float* data, int64_t rows, int64_t row_length,
                     const ComputePool& pool) {
  if (activation == Activation::kLinear || rows <= 0 || row_length <= 0) return;
  const int64_t grain = std::max<int64_t>(1, kElementsPerTask / row_length);
  if (activation == Activation::kSoftmax) {
    ParallelFor(pool, rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) SoftmaxRow(data + r * row_length, row_length);
    });
    return;
  }
  const RangeFn scalar = kRangeFns[static_cast<size_t>(activation)];
  // With the fast path's AVX2 or AVX-512 kernels (fast_isa.h, TCONV_ISA), the transcendental
  // ones go through libmvec: tanh over a pix2pix_last output (196K floats) 2.5 ms -> 0.5 ms.
  const bool vector = std::string_view(SelectKernels().isa) != "scalar";
  ParallelFor(pool, rows, grain, [&](int64_t begin, int64_t end) {
    float* const first = data + begin * row_length;
    float* const last = data + end * row_length;
    if (!vector || !ActivateRangeAvx2(activation, first, last)) scalar(first, last);
  });
}

}  // namespace tconv::internal
