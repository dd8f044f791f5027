// AVX2 + FMA microkernels (compiled with -mavx2 -mfma; called only after a CPU check).
#include <immintrin.h>

#include <cstdint>

#include "microkernels.h"

namespace tconv::internal {
namespace {

constexpr int kLanes = 8;

// Lanes [0, n) set, for maskload/maskstore.
inline __m256i TailMask(int64_t n) {
  alignas(32) static const int32_t kBits[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
  const int64_t k = n >= kLanes ? kLanes : n <= 0 ? 0 : n;
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBits + kLanes - k));
}

// How far ahead a streaming tile prefetches its panel (as the AVX-512 tiles).
constexpr int64_t kPrefetchBytes = 8 << 10;

// MR pixels x (NV * 8) channels; MR * NV + NV + 1 <= 16 registers. kStream prefetches the
// panel kPrefetchBytes ahead, for panels only this tile reads (see microkernels_avx512.cc).
template <int MR, int NV, bool kStream>
void GemmTile(int64_t kc, const float* const* a, int64_t c0, const float* b, const float* init,
              float* const* out, int64_t n_valid) {
  __m256 acc[MR][NV];
  for (int n = 0; n < NV; ++n) {
    const __m256i mask = TailMask(n_valid - n * kLanes);
    for (int r = 0; r < MR; ++r) {
      acc[r][n] = init != nullptr ? _mm256_loadu_ps(init + n * kLanes)
                                  : _mm256_maskload_ps(out[r] + n * kLanes, mask);
    }
  }
  const float* ap[MR];
  for (int r = 0; r < MR; ++r) ap[r] = a[r] + c0;
  for (int64_t c = 0; c < kc; ++c, b += NV * kLanes) {
    if constexpr (kStream) {
      constexpr int64_t kAhead = kPrefetchBytes / (NV * kLanes * sizeof(float));
      if (c + kAhead < kc) {
        for (int64_t n = 0; n < NV * kLanes; n += 16) {  // one 64-byte line at a time
          _mm_prefetch(reinterpret_cast<const char*>(b + kAhead * NV * kLanes + n), _MM_HINT_T0);
        }
      }
    }
    __m256 bv[NV];
    for (int n = 0; n < NV; ++n) bv[n] = _mm256_loadu_ps(b + n * kLanes);
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(ap[r] + c);
      for (int n = 0; n < NV; ++n) acc[r][n] = _mm256_fmadd_ps(av, bv[n], acc[r][n]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int n = 0; n < NV && n * kLanes < n_valid; ++n) {
      if (n_valid - n * kLanes >= kLanes) {
        _mm256_storeu_ps(out[r] + n * kLanes, acc[r][n]);
      } else {
        _mm256_maskstore_ps(out[r] + n * kLanes, TailMask(n_valid - n * kLanes), acc[r][n]);
      }
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

// Fixed-order horizontal sum of the 8 lanes.
inline float ReduceAdd(__m256 v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

// P pixels x F filters of dot products over channels, one partial sum per lane.
template <int P, int F>
void DotTile(int64_t kc, int64_t ntaps, const float* const* a, const float* const* w,
             const float* bias, float* const* out) {
  __m256 acc[P][F];
  for (int r = 0; r < P; ++r) {
    for (int j = 0; j < F; ++j) acc[r][j] = _mm256_setzero_ps();
  }
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* ap[P];
    for (int r = 0; r < P; ++r) ap[r] = a[t * P + r];
    const float* wp = w[t];
    int64_t c = 0;
    for (; c + kLanes <= kc; c += kLanes) {
      __m256 wv[F];
      for (int j = 0; j < F; ++j) wv[j] = _mm256_loadu_ps(wp + j * kc + c);
      for (int r = 0; r < P; ++r) {
        const __m256 av = _mm256_loadu_ps(ap[r] + c);
        for (int j = 0; j < F; ++j) acc[r][j] = _mm256_fmadd_ps(av, wv[j], acc[r][j]);
      }
    }
    if (c < kc) {
      const __m256i mask = TailMask(kc - c);
      __m256 wv[F];
      for (int j = 0; j < F; ++j) wv[j] = _mm256_maskload_ps(wp + j * kc + c, mask);
      for (int r = 0; r < P; ++r) {
        const __m256 av = _mm256_maskload_ps(ap[r] + c, mask);
        for (int j = 0; j < F; ++j) acc[r][j] = _mm256_fmadd_ps(av, wv[j], acc[r][j]);
      }
    }
  }
  for (int r = 0; r < P; ++r) {
    for (int j = 0; j < F; ++j) out[r][j] = ReduceAdd(acc[r][j]) + bias[j];
  }
}

// Tiles of up to 12 accumulators (16 registers in all).
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
  static const KernelSet kSet = [] {
    KernelSet s;
    s.isa = "avx2";
    s.gemm[0] = {4, 24, GemmDispatch<3, false, 1, 2, 3, 4>, GemmDispatch<3, true, 1, 2, 3, 4>};
    s.gemm[1] = {6, 16, GemmDispatch<2, false, 1, 2, 3, 4, 5, 6>,
                 GemmDispatch<2, true, 1, 2, 3, 4, 5, 6>};
    s.gemm[2] = {12, 8, GemmDispatch<1, false, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>,
                 GemmDispatch<1, true, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>};
    s.num_gemm = 3;
    s.dot_mr[1] = 8;
    s.dot_mr[2] = 5;
    s.dot_mr[3] = s.dot_mr[4] = 3;
    s.dot = Dot;
    s.transpose8 = Transpose8Avx2;
    return s;
  }();
  return kSet;
}

}  // namespace tconv::internal
