// AVX-512 microkernels (compiled with AVX-512 flags; called only after a CPU check).
#include <immintrin.h>

#include <cstdint>

#include "microkernels.h"

namespace tconv::internal {
namespace {

constexpr int kLanes = 16;

inline __mmask16 TailMask(int64_t n) {
  return n >= kLanes ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

// Fixed-order horizontal sum of the 16 lanes. (GCC 12's _mm512_reduce_add_ps and unmasked
// shuffles/extracts trip -Wuninitialized on their own _mm*_undefined_ps.)
inline float ReduceAdd(__m512 v) {
  const __m512 s8 = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E));
  const __m512 s4 = _mm512_add_ps(s8, _mm512_mask_shuffle_f32x4(s8, 0xFFFF, s8, s8, 0xB1));
  const __m128 q = _mm512_maskz_extractf32x4_ps(0xF, s4, 0);
  const __m128 s2 = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// How far ahead a streaming tile prefetches its panel: 8 KiB, 32 rows of a 64-wide panel, about
// what the FMAs of 4 pixels take while a cache line comes from memory.
constexpr int64_t kPrefetchBytes = 8 << 10;

// MR pixels x (NV * 16) channels; accumulators stay in registers (MR * NV <= 28). kStream
// prefetches the panel kPrefetchBytes ahead, for panels that only this tile reads (streamed from
// memory): pix2pix_up2 at batch 1 (32 MiB of weights, 4 pixels per phase) went from 1.39-1.82 to
// 1.36-1.58 ms on 1 thread, 0.79-1.21 to 0.68-0.76 ms on 2. Panels that several tiles share
// were 25% slower with it (unet_up1 b1), so the driver asks for it only for one-tile blocks.
template <int MR, int NV, bool kStream>
void GemmTile(int64_t kc, const float* const* a, int64_t c0, const float* b, const float* init,
              float* const* out, int64_t n_valid) {
  __m512 acc[MR][NV];
  for (int n = 0; n < NV; ++n) {
    const __mmask16 mask = TailMask(n_valid - n * kLanes);
    for (int r = 0; r < MR; ++r) {
      acc[r][n] = init != nullptr ? _mm512_loadu_ps(init + n * kLanes)
                                  : _mm512_maskz_loadu_ps(mask, out[r] + n * kLanes);
    }
  }
  const float* ap[MR];
  for (int r = 0; r < MR; ++r) ap[r] = a[r] + c0;
  for (int64_t c = 0; c < kc; ++c, b += NV * kLanes) {
    if constexpr (kStream) {
      constexpr int64_t kAhead = kPrefetchBytes / (NV * kLanes * sizeof(float));
      if (c + kAhead < kc) {
        for (int n = 0; n < NV; ++n) {  // one 64-byte line per vector
          _mm_prefetch(reinterpret_cast<const char*>(b + (kAhead * NV + n) * kLanes), _MM_HINT_T0);
        }
      }
    }
    __m512 bv[NV];
    for (int n = 0; n < NV; ++n) bv[n] = _mm512_loadu_ps(b + n * kLanes);
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r][c]);
      for (int n = 0; n < NV; ++n) acc[r][n] = _mm512_fmadd_ps(av, bv[n], acc[r][n]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int n = 0; n < NV && n * kLanes < n_valid; ++n) {
      _mm512_mask_storeu_ps(out[r] + n * kLanes, TailMask(n_valid - n * kLanes), acc[r][n]);
    }
  }
}

template <int NV, bool kStream, int... Ms>
void GemmDispatch(int64_t m, int64_t kc, const float* const* a, int64_t c0, const float* b,
                  const float* init, float* const* out, int64_t n_valid) {
  using Fn = void (*)(int64_t, const float* const*, int64_t, const float*, const float*,
                      float* const*, int64_t);
  static constexpr Fn kTiles[] = {GemmTile<Ms, NV, kStream>...};
  kTiles[m - 1](kc, a, c0, b, init, out, n_valid);
}

// P pixels x F filters of dot products over channels, one partial sum per lane.
template <int P, int F>
void DotTile(int64_t kc, int64_t ntaps, const float* const* a, const float* const* w,
             const float* bias, float* const* out) {
  __m512 acc[P][F];
  for (int r = 0; r < P; ++r) {
    for (int j = 0; j < F; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* ap[P];
    for (int r = 0; r < P; ++r) ap[r] = a[t * P + r];
    const float* wp = w[t];
    for (int64_t c = 0; c < kc; c += kLanes) {
      const __mmask16 mask = TailMask(kc - c);
      __m512 wv[F];
      for (int j = 0; j < F; ++j) wv[j] = _mm512_maskz_loadu_ps(mask, wp + j * kc + c);
      for (int r = 0; r < P; ++r) {
        const __m512 av = _mm512_maskz_loadu_ps(mask, ap[r] + c);
        for (int j = 0; j < F; ++j) acc[r][j] = _mm512_fmadd_ps(av, wv[j], acc[r][j]);
      }
    }
  }
  for (int r = 0; r < P; ++r) {
    for (int j = 0; j < F; ++j) out[r][j] = ReduceAdd(acc[r][j]) + bias[j];
  }
}

// Tiles of up to 24 accumulators: P * F independent FMA chains hide the FMA latency.
template <int F>
void DotForFilters(int64_t m, int64_t kc, int64_t ntaps, const float* const* a,
                   const float* const* w, const float* bias, float* const* out) {
  using Fn = void (*)(int64_t, int64_t, const float* const*, const float* const*, const float*,
                      float* const*);
  static constexpr Fn kTiles[] = {DotTile<1, F>, DotTile<2, F>, DotTile<3, F>, DotTile<4, F>,
                                  DotTile<5, F>, DotTile<6, F>, DotTile<7, F>, DotTile<8, F>};
  kTiles[m - 1](kc, ntaps, a, w, bias, out);
}

void Dot(int64_t m, int64_t f, int64_t kc, int64_t ntaps, const float* const* a,
         const float* const* w, const float* bias, float* const* out) {
  WithFilterCount(f, [&](auto filters) {
    DotForFilters<decltype(filters)::value>(m, kc, ntaps, a, w, bias, out);
  });
}

}  // namespace

const KernelSet& Avx512Kernels() {
  static const KernelSet kSet = [] {
    KernelSet s;
    s.isa = "avx512";
    s.gemm[0] = {6, 64, GemmDispatch<4, false, 1, 2, 3, 4, 5, 6>,
                 GemmDispatch<4, true, 1, 2, 3, 4, 5, 6>};
    s.gemm[1] = {12, 32, GemmDispatch<2, false, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>,
                 GemmDispatch<2, true, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>};
    s.gemm[2] = {14, 16, GemmDispatch<1, false, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>,
                 GemmDispatch<1, true, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>};
    s.num_gemm = 3;
    s.dot_mr[1] = s.dot_mr[2] = 8;
    s.dot_mr[3] = 8;
    s.dot_mr[4] = 6;
    s.dot = Dot;
    s.transpose8 = Transpose8Avx2;
    return s;
  }();
  return kSet;
}

}  // namespace tconv::internal
