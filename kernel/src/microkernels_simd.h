// The GEMM and dot microkernels (microkernels.h), written once over a vector type V and
// instantiated by each SIMD instruction set's translation unit (microkernels_avx2.cc,
// microkernels_avx512.cc), which is compiled for that ISA only. V is a struct of static inline
// functions over one register of floats:
//   using Vec; using Mask;          the register and a lane mask
//   kLanes                          floats per register
//   Zero(), Load(p), Broadcast(p)   0; p[0, kLanes); *p in every lane
//   TailMask(n)                     lanes [0, n) set (n <= 0: none, n >= kLanes: all)
//   LoadMasked(p, mask)             p[lane] where set, else 0 (reads no other lane)
//   StoreFirst(p, v, n)             writes lanes [0, min(n, kLanes)) of v to p, n >= 1
//   Fmadd(a, b, acc)                a * b + acc, one rounding per lane
//   ReduceAdd(v)                    the sum of the lanes in a fixed order
//   Relu(v)                         v > 0 ? v : +0 per lane (NaN -> +0), activations.cc's ReLU
// The V types live in an unnamed namespace of their translation unit, so every instantiation
// has internal linkage and code compiled for one ISA is never linked in place of another's.
#ifndef TCONV_KERNEL_SRC_MICROKERNELS_SIMD_H_
#define TCONV_KERNEL_SRC_MICROKERNELS_SIMD_H_

#include <xmmintrin.h>  // _mm_prefetch

#include <cstdint>
#include <utility>

#include "microkernels.h"

namespace tconv::internal::simd {

// Fully unrolls a loop over a tile's rows or register columns. GCC 12 at -O3 keeps an
// accumulator array it cannot unroll early in memory: the 6 x 16 AVX2 tile stored its 12
// accumulators to the stack after every FMA pair, halving its rate.
#define TCONV_UNROLL _Pragma("GCC unroll 16")

// How far ahead a streaming tile prefetches its panel: 8 KiB, 32 rows of a 64-wide panel, about
// what the FMAs of 4 pixels take while a cache line comes from memory.
inline constexpr int64_t kPrefetchBytes = 8 << 10;

// MR pixels x (NV * kLanes) channels, the accumulators in registers (the ISA's TU chooses MR and
// NV so that MR * NV + NV + 1 fit its register file). kStream prefetches the panel
// kPrefetchBytes ahead, for panels that only this tile reads (streamed from memory):
// pix2pix_up2 at batch 1 (32 MiB of weights, 4 pixels per phase, AVX-512) went from 1.39-1.82 to
// 1.36-1.58 ms on 1 thread, 0.79-1.21 to 0.68-0.76 ms on 2. Panels that several tiles share
// were 25% slower with it (unet_up1 b1), so the driver asks for it only for one-tile blocks.
template <typename V, int MR, int NV, bool kStream>
void GemmTile(int64_t kc, const float* const* a, int64_t c0, const float* b, const float* init,
              float* const* out, int64_t n_valid) {
  constexpr int kLanes = V::kLanes;
  typename V::Vec acc[MR][NV];
  TCONV_UNROLL for (int n = 0; n < NV; ++n) {
    const typename V::Mask mask = V::TailMask(n_valid - n * kLanes);
    TCONV_UNROLL for (int r = 0; r < MR; ++r) {
      acc[r][n] =
          init != nullptr ? V::Load(init + n * kLanes) : V::LoadMasked(out[r] + n * kLanes, mask);
    }
  }
  const float* ap[MR];
  TCONV_UNROLL for (int r = 0; r < MR; ++r) ap[r] = a[r] + c0;
  for (int64_t c = 0; c < kc; ++c, b += NV * kLanes) {
    if constexpr (kStream) {
      constexpr int64_t kAhead = kPrefetchBytes / (NV * kLanes * sizeof(float));
      if (c + kAhead < kc) {
        for (int64_t n = 0; n < NV * kLanes; n += 16) {  // one 64-byte line at a time
          _mm_prefetch(reinterpret_cast<const char*>(b + kAhead * NV * kLanes + n), _MM_HINT_T0);
        }
      }
    }
    typename V::Vec bv[NV];
    TCONV_UNROLL for (int n = 0; n < NV; ++n) bv[n] = V::Load(b + n * kLanes);
    TCONV_UNROLL for (int r = 0; r < MR; ++r) {
      const typename V::Vec av = V::Broadcast(ap[r] + c);
      TCONV_UNROLL for (int n = 0; n < NV; ++n) acc[r][n] = V::Fmadd(av, bv[n], acc[r][n]);
    }
  }
  TCONV_UNROLL for (int r = 0; r < MR; ++r) {
    TCONV_UNROLL for (int n = 0; n < NV; ++n) {
      if (n * kLanes < n_valid) V::StoreFirst(out[r] + n * kLanes, acc[r][n], n_valid - n * kLanes);
    }
  }
}

// The GemmFn of tiles GemmTile<V, 1..MR, NV, kStream>, by m.
template <typename V, int NV, bool kStream, int... kMs>
void GemmForRows(int64_t m, int64_t kc, const float* const* a, int64_t c0, const float* b,
                 const float* init, float* const* out, int64_t n_valid) {
  using Fn = void (*)(int64_t, const float* const*, int64_t, const float*, const float*,
                      float* const*, int64_t);
  static constexpr Fn kTiles[] = {GemmTile<V, kMs + 1, NV, kStream>...};
  kTiles[m - 1](kc, a, c0, b, init, out, n_valid);
}

template <typename V, int NV, bool kStream, int... kMs>
constexpr GemmFn GemmFnFor(std::integer_sequence<int, kMs...>) {
  return GemmForRows<V, NV, kStream, kMs...>;
}

// The GemmTapsFn tile: GemmTile's loop run tap after tap with the accumulators kept. kRelu
// applies ReLU to the sums as they are stored (the layer's activation pass then skips it).
template <typename V, int MR, int NV, bool kRelu>
void GemmTapsTile(int64_t ntaps, int64_t kc, const float* const* a, const float* const* b,
                  const float* init, float* const* out, int64_t n_valid) {
  constexpr int kLanes = V::kLanes;
  typename V::Vec acc[MR][NV];
  TCONV_UNROLL for (int n = 0; n < NV; ++n) {
    TCONV_UNROLL for (int r = 0; r < MR; ++r) acc[r][n] = V::Load(init + n * kLanes);
  }
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* ap[MR];
    TCONV_UNROLL for (int r = 0; r < MR; ++r) ap[r] = a[t * MR + r];
    const float* bp = b[t];
    for (int64_t c = 0; c < kc; ++c, bp += NV * kLanes) {
      typename V::Vec bv[NV];
      TCONV_UNROLL for (int n = 0; n < NV; ++n) bv[n] = V::Load(bp + n * kLanes);
      TCONV_UNROLL for (int r = 0; r < MR; ++r) {
        const typename V::Vec av = V::Broadcast(ap[r] + c);
        TCONV_UNROLL for (int n = 0; n < NV; ++n) acc[r][n] = V::Fmadd(av, bv[n], acc[r][n]);
      }
    }
  }
  TCONV_UNROLL for (int r = 0; r < MR; ++r) {
    TCONV_UNROLL for (int n = 0; n < NV; ++n) {
      if (n * kLanes >= n_valid) continue;
      const typename V::Vec sum = kRelu ? V::Relu(acc[r][n]) : acc[r][n];
      V::StoreFirst(out[r] + n * kLanes, sum, n_valid - n * kLanes);
    }
  }
}

// The GemmTapsFn of tiles GemmTapsTile<V, 1..MR, NV, kRelu>, by m.
template <typename V, int NV, bool kRelu, int... kMs>
void GemmTapsForRows(int64_t m, int64_t ntaps, int64_t kc, const float* const* a,
                     const float* const* b, const float* init, float* const* out, int64_t n_valid) {
  using Fn = void (*)(int64_t, int64_t, const float* const*, const float* const*, const float*,
                      float* const*, int64_t);
  static constexpr Fn kTiles[] = {GemmTapsTile<V, kMs + 1, NV, kRelu>...};
  kTiles[m - 1](ntaps, kc, a, b, init, out, n_valid);
}

template <typename V, int NV, bool kRelu, int... kMs>
constexpr GemmTapsFn GemmTapsFnFor(std::integer_sequence<int, kMs...>) {
  return GemmTapsForRows<V, NV, kRelu, kMs...>;
}

// The GEMM variant of MR pixels x (NV * kLanes) channels, with its streaming and all-taps twins.
template <typename V, int MR, int NV>
constexpr GemmVariant MakeGemmVariant() {
  constexpr auto rows = std::make_integer_sequence<int, MR>();
  return {MR,
          NV * V::kLanes,
          GemmFnFor<V, NV, false>(rows),
          GemmFnFor<V, NV, true>(rows),
          GemmTapsFnFor<V, NV, false>(rows),
          GemmTapsFnFor<V, NV, true>(rows)};
}

// P pixels x F filters of dot products over channels, one partial sum per lane.
template <typename V, int P, int F>
void DotTile(int64_t kc, int64_t ntaps, const float* const* a, const float* const* w,
             const float* bias, float* const* out) {
  constexpr int kLanes = V::kLanes;
  typename V::Vec acc[P][F];
  TCONV_UNROLL for (int r = 0; r < P; ++r) {
    TCONV_UNROLL for (int j = 0; j < F; ++j) acc[r][j] = V::Zero();
  }
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* ap[P];
    TCONV_UNROLL for (int r = 0; r < P; ++r) ap[r] = a[t * P + r];
    const float* wp = w[t];
    int64_t c = 0;
    for (; c + kLanes <= kc; c += kLanes) {
      typename V::Vec wv[F];
      TCONV_UNROLL for (int j = 0; j < F; ++j) wv[j] = V::Load(wp + j * kc + c);
      TCONV_UNROLL for (int r = 0; r < P; ++r) {
        const typename V::Vec av = V::Load(ap[r] + c);
        TCONV_UNROLL for (int j = 0; j < F; ++j) acc[r][j] = V::Fmadd(av, wv[j], acc[r][j]);
      }
    }
    if (c < kc) {  // the masked lanes load 0 and leave their partial sums as they are
      const typename V::Mask mask = V::TailMask(kc - c);
      typename V::Vec wv[F];
      TCONV_UNROLL for (int j = 0; j < F; ++j) wv[j] = V::LoadMasked(wp + j * kc + c, mask);
      TCONV_UNROLL for (int r = 0; r < P; ++r) {
        const typename V::Vec av = V::LoadMasked(ap[r] + c, mask);
        TCONV_UNROLL for (int j = 0; j < F; ++j) acc[r][j] = V::Fmadd(av, wv[j], acc[r][j]);
      }
    }
  }
  TCONV_UNROLL for (int r = 0; r < P; ++r) {
    TCONV_UNROLL for (int j = 0; j < F; ++j) out[r][j] = V::ReduceAdd(acc[r][j]) + bias[j];
  }
}

// Tiles of 1-8 pixels (the ISA's dot_mr[F] says how many fit its registers: P * F independent
// FMA chains hide the FMA latency).
template <typename V, int F>
void DotForFilters(int64_t m, int64_t kc, int64_t ntaps, const float* const* a,
                   const float* const* w, const float* bias, float* const* out) {
  using Fn = void (*)(int64_t, int64_t, const float* const*, const float* const*, const float*,
                      float* const*);
  static constexpr Fn kTiles[] = {DotTile<V, 1, F>, DotTile<V, 2, F>, DotTile<V, 3, F>,
                                  DotTile<V, 4, F>, DotTile<V, 5, F>, DotTile<V, 6, F>,
                                  DotTile<V, 7, F>, DotTile<V, 8, F>};
  kTiles[m - 1](kc, ntaps, a, w, bias, out);
}

// The DotFn.
template <typename V>
void Dot(int64_t m, int64_t f, int64_t kc, int64_t ntaps, const float* const* a,
         const float* const* w, const float* bias, float* const* out) {
  WithFilterCount(f, [&](auto filters) {
    DotForFilters<V, decltype(filters)::value>(m, kc, ntaps, a, w, bias, out);
  });
}

}  // namespace tconv::internal::simd

#endif  // TCONV_KERNEL_SRC_MICROKERNELS_SIMD_H_
