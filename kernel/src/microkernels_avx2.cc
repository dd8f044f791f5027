// AVX2 + FMA microkernels (compiled with -mavx2 -mfma; called only after a CPU check): the
// shared kernels of microkernels_simd.h over 8-float registers, and the 8 x 8 transpose.
#include <immintrin.h>

#include <cstdint>

#include "microkernels.h"
#include "microkernels_simd.h"

namespace tconv::internal {
namespace {

struct Avx2Vec {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;

  static Vec Zero() { return _mm256_setzero_ps(); }
  static Vec Load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec Broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Mask TailMask(int64_t n) {
    alignas(32) static const int32_t kBits[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                  0,  0,  0,  0,  0,  0,  0,  0};
    const int64_t k = n >= kLanes ? kLanes : n <= 0 ? 0 : n;
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBits + kLanes - k));
  }
  static Vec LoadMasked(const float* p, Mask mask) { return _mm256_maskload_ps(p, mask); }
  static void StoreFirst(float* p, Vec v, int64_t n) {
    if (n >= kLanes) {
      _mm256_storeu_ps(p, v);
    } else {
      _mm256_maskstore_ps(p, TailMask(n), v);
    }
  }
  static Vec Fmadd(Vec a, Vec b, Vec acc) { return _mm256_fmadd_ps(a, b, acc); }
  // max(a, b) is a > b ? a : b, so b = +0 for NaN, -0 and +0.
  static Vec Relu(Vec v) { return _mm256_max_ps(v, _mm256_setzero_ps()); }
  static float ReduceAdd(Vec v) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
  }
};

}  // namespace

void Transpose8Avx2(const float* from, int64_t from_stride, float* to, int64_t to_stride) {
  __m256 r[8], t[8], s[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(from + i * from_stride);
  // t: rows i, i+1 interleaved per 128-bit lane; s: columns (c, c + 4) of rows 0-3 / 4-7.
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {
    _mm256_storeu_ps(to + c * to_stride, _mm256_permute2f128_ps(s[c], s[c + 4], 0x20));
    _mm256_storeu_ps(to + (c + 4) * to_stride, _mm256_permute2f128_ps(s[c], s[c + 4], 0x31));
  }
}

const KernelSet& Avx2Kernels() {
  // 16 registers: GEMM tiles of MR * NV + NV + 1 <= 16, dot tiles of up to 12 accumulators.
  static const KernelSet kSet = [] {
    KernelSet s;
    s.isa = "avx2";
    s.gemm[0] = simd::MakeGemmVariant<Avx2Vec, 4, 3>();
    s.gemm[1] = simd::MakeGemmVariant<Avx2Vec, 6, 2>();
    s.gemm[2] = simd::MakeGemmVariant<Avx2Vec, 12, 1>();
    // 12 broadcasts per 12 FMAs: on Zen 3, 57-70 GFLOP/s against 4x24's and 6x16's 88-102 (a
    // tile over a kc x nr panel in L1, kc = 128-682; at kc = 64 75-81). So 40 filters run as
    // three 6x16 panels (48 columns) rather than five 12x8 ones.
    s.gemm[2].rate = 0.67;
    s.num_gemm = 3;
    s.dot_mr[1] = 8;
    s.dot_mr[2] = 5;
    s.dot_mr[3] = s.dot_mr[4] = 3;
    s.dot = simd::Dot<Avx2Vec>;
    s.transpose8 = Transpose8Avx2;
    s.vector_activations = true;
    return s;
  }();
  return kSet;
}

}  // namespace tconv::internal
