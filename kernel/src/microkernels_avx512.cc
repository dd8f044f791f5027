// AVX-512 microkernels (compiled with AVX-512 flags; called only after a CPU check): the shared
// kernels of microkernels_simd.h over 16-float registers (the 8 x 8 transpose is AVX2's).
#include <immintrin.h>

#include <cstdint>

#include "microkernels.h"
#include "microkernels_simd.h"

namespace tconv::internal {
namespace {

struct Avx512Vec {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;

  static Vec Zero() { return _mm512_setzero_ps(); }
  static Vec Load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec Broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Mask TailMask(int64_t n) {
    return n >= kLanes ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1u);
  }
  static Vec LoadMasked(const float* p, Mask mask) { return _mm512_maskz_loadu_ps(mask, p); }
  static void StoreFirst(float* p, Vec v, int64_t n) { _mm512_mask_storeu_ps(p, TailMask(n), v); }
  static Vec Fmadd(Vec a, Vec b, Vec acc) { return _mm512_fmadd_ps(a, b, acc); }
  // max(a, b) is a > b ? a : b, so b = +0 for NaN, -0 and +0. (The maskz form: GCC 12's
  // _mm512_max_ps trips -Wmaybe-uninitialized on its own _mm512_undefined_ps.)
  static Vec Relu(Vec v) { return _mm512_maskz_max_ps(Mask(0xFFFF), v, _mm512_setzero_ps()); }
  // (GCC 12's _mm512_reduce_add_ps and unmasked shuffles/extracts trip -Wuninitialized on their
  // own _mm*_undefined_ps.)
  static float ReduceAdd(Vec v) {
    const __m512 s8 = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E));
    const __m512 s4 = _mm512_add_ps(s8, _mm512_mask_shuffle_f32x4(s8, 0xFFFF, s8, s8, 0xB1));
    const __m128 q = _mm512_maskz_extractf32x4_ps(0xF, s4, 0);
    const __m128 s2 = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
};

}  // namespace

const KernelSet& Avx512Kernels() {
  // 32 registers: GEMM tiles of MR * NV <= 28 accumulators, dot tiles of up to 24.
  static const KernelSet kSet = [] {
    KernelSet s;
    s.isa = "avx512";
    s.gemm[0] = simd::MakeGemmVariant<Avx512Vec, 6, 4>();
    s.gemm[1] = simd::MakeGemmVariant<Avx512Vec, 12, 2>();
    s.gemm[2] = simd::MakeGemmVariant<Avx512Vec, 14, 1>();
    s.num_gemm = 3;
    s.dot_mr[1] = s.dot_mr[2] = s.dot_mr[3] = 8;
    s.dot_mr[4] = 6;
    s.dot = simd::Dot<Avx512Vec>;
    s.transpose8 = Transpose8Avx2;
    s.vector_activations = true;
    return s;
  }();
  return kSet;
}

}  // namespace tconv::internal
