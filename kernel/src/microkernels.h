// Microkernels of the fast path: pure functions of pointers and sizes (no allocation, no
// threads, no error path), one set per instruction set, chosen once per layer at creation.
//
// Both kernel kinds read their input through an indirection list, as XNNPACK's indirect GEMM
// does: for tap t and output pixel r, a[t * m + r] points at the `kc` input channels that
// pixel reads through that tap (or at a zero row when the tap falls outside the input). So one
// kernel serves every output phase of a strided transposed convolution, padding needs no copy,
// and a tile may hold pixels of different rows or examples.
//
// Bit-for-bit contract: each output element is accumulated in a fixed order — its start value,
// then taps in list order, then channels in ascending order (the dot kernel keeps one partial
// sum per vector lane and reduces them in a fixed order at the end). The order does not depend
// on `m` or on the element's row in the tile, so any tiling of the pixels gives the same bits.
#ifndef TCONV_KERNEL_SRC_MICROKERNELS_H_
#define TCONV_KERNEL_SRC_MICROKERNELS_H_

#include <cstdint>

namespace tconv::internal {

// GEMM kernel over `m` pixels x nr output channels (nr fixed per variant):
//   out[r][n] = init[n] + sum_t sum_c a[t*m + r][c] * b[t][c*nr + n]    for n < n_valid.
// b[t] is a packed [kc x nr] panel; init holds nr values. 1 <= m <= the variant's mr.
using GemmFn = void (*)(int64_t m, int64_t kc, int64_t ntaps, const float* const* a,
                        const float* const* b, const float* init, float* const* out,
                        int64_t n_valid);

// Dot kernel for few output channels (1 <= f <= kMaxDotFilters): vectorised over channels.
//   out[r][j] = bias[j] + sum_t sum_c a[t*m + r][c] * w[t][j*kc + c]       for j < f.
// w[t] is the tap's [f x kc] slice of the Keras kernel. 1 <= m <= the set's dot_mr[f].
using DotFn = void (*)(int64_t m, int64_t f, int64_t kc, int64_t ntaps, const float* const* a,
                       const float* const* w, const float* bias, float* const* out);

inline constexpr int kMaxDotFilters = 4;
inline constexpr int kMaxGemmVariants = 3;

struct GemmVariant {
  int mr = 0;  // pixels per tile
  int nr = 0;  // output channels per tile (a multiple of the vector width)
  GemmFn fn = nullptr;
};

// The kernels of one instruction set. Variants are listed widest nr first.
struct KernelSet {
  const char* isa = "";
  GemmVariant gemm[kMaxGemmVariants];
  int num_gemm = 0;
  int dot_mr[kMaxDotFilters + 1] = {};  // pixels per tile, by filter count
  DotFn dot = nullptr;
};

const KernelSet& ScalarKernels();
const KernelSet& Avx2Kernels();    // call only when the CPU has AVX2 and FMA
const KernelSet& Avx512Kernels();  // call only when the CPU has AVX-512 F/VL/BW/DQ

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_MICROKERNELS_H_
