// The transcendental activations over a range with glibc's vector math library (libmvec, its
// AVX2 functions of 4 doubles: <= 4 ulp in double, like the scalar libm). Same formulas as
// activations.cc's ActivateElement, evaluated in double and rounded to float once. (Compiled
// with AVX2 flags; called only after a CPU check.)
#include <immintrin.h>

#include <algorithm>

#include "activations.h"

// libmvec's AVX2 entry points, named by the x86-64 vector function ABI ('d': AVX2, 4 lanes).
// NOLINTBEGIN(bugprone-reserved-identifier): the ABI fixes these names.
extern "C" {
__m256d _ZGVdN4v_erf(__m256d);
__m256d _ZGVdN4v_exp(__m256d);
__m256d _ZGVdN4v_expm1(__m256d);
__m256d _ZGVdN4v_log1p(__m256d);
__m256d _ZGVdN4v_tanh(__m256d);
}
// NOLINTEND(bugprone-reserved-identifier)

namespace tconv::internal {
namespace {

// Every element, the last ones too (through a padded copy), goes through the same vector code,
// so an element's result does not depend on where a range starts or ends.
template <typename Fn>
void Map(float* first, float* last, Fn fn) {
  auto four = [&](float* p) {
    _mm_storeu_ps(p, _mm256_cvtpd_ps(fn(_mm256_cvtps_pd(_mm_loadu_ps(p)))));
  };
  float* p = first;
  for (; last - p >= 4; p += 4) four(p);
  if (p == last) return;
  float tail[4] = {};
  std::copy(p, last, tail);
  four(tail);
  std::copy(tail, tail + (last - p), p);
}

// a > b ? if_greater : otherwise, per lane (false for NaN, as the scalar code's comparisons).
__m256d SelectGreater(__m256d a, __m256d b, __m256d if_greater, __m256d otherwise) {
  return _mm256_blendv_pd(otherwise, if_greater, _mm256_cmp_pd(a, b, _CMP_GT_OQ));
}

__m256d Sigmoid(__m256d x) {
  const __m256d one = _mm256_set1_pd(1.0);
  return _mm256_div_pd(one,
                       _mm256_add_pd(one, _ZGVdN4v_exp(_mm256_sub_pd(_mm256_setzero_pd(), x))));
}

}  // namespace

bool ActivateRangeAvx2(Activation activation, float* first, float* last) {
  const __m256d zero = _mm256_setzero_pd();
  switch (activation) {
    case Activation::kTanh:
      Map(first, last, [](__m256d x) { return _ZGVdN4v_tanh(x); });
      return true;
    case Activation::kSigmoid:
      Map(first, last, Sigmoid);
      return true;
    case Activation::kSwish:
      Map(first, last, [](__m256d x) { return _mm256_mul_pd(x, Sigmoid(x)); });
      return true;
    case Activation::kExponential:
      Map(first, last, [](__m256d x) { return _ZGVdN4v_exp(x); });
      return true;
    case Activation::kElu:
      Map(first, last, [&](__m256d x) { return SelectGreater(x, zero, x, _ZGVdN4v_expm1(x)); });
      return true;
    case Activation::kSelu:
      Map(first, last, [&](__m256d x) {
        const __m256d negative = _mm256_mul_pd(_mm256_set1_pd(kSeluAlpha), _ZGVdN4v_expm1(x));
        return _mm256_mul_pd(_mm256_set1_pd(kSeluScale), SelectGreater(x, zero, x, negative));
      });
      return true;
    case Activation::kSoftplus:
      Map(first, last, [](__m256d x) {
        const __m256d threshold = _mm256_set1_pd(kSoftplusThreshold);
        const __m256d e = _ZGVdN4v_exp(x);
        const __m256d mid = SelectGreater(threshold, x, e, _ZGVdN4v_log1p(e));
        return SelectGreater(x, _mm256_sub_pd(_mm256_setzero_pd(), threshold), x, mid);
      });
      return true;
    case Activation::kGelu:
      Map(first, last, [](__m256d x) {
        const __m256d erf = _ZGVdN4v_erf(_mm256_div_pd(x, _mm256_set1_pd(kSqrt2)));
        return _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), x),
                             _mm256_add_pd(_mm256_set1_pd(1.0), erf));
      });
      return true;
    default:  // the cheap ones (vectorised by the compiler), the rarer Keras 3 ones, softmax
      return false;
  }
}

}  // namespace tconv::internal
