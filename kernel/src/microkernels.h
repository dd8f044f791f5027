// Microkernels of the fast path: pure functions of pointers and sizes (no allocation, no
// threads, no error path), one set per instruction set. FastConv2DTranspose::Create picks a set
// once per layer (fast_isa.h) and the layer keeps it: its plan, packing and buffers are sized
// for that set's tiles.
//
// Both kernel kinds read their input through an indirection list, as XNNPACK's indirect GEMM
// does: a pointer per output pixel (and tap) to the input channels that pixel reads through
// that tap (or to a zero row when the tap falls outside the input). So one
// kernel serves every output phase of a strided transposed convolution, padding needs no copy,
// and a tile may hold pixels of different rows or examples.
//
// Bit-for-bit contract: each output element is accumulated with one FMA per (tap, channel) in
// the order the caller feeds them (the dot kernel keeps one partial sum per vector lane and
// reduces them in a fixed order at the end). Nothing depends on `m` or on the element's row in
// the tile, so any tiling of the pixels gives the same bits.
#ifndef TCONV_KERNEL_SRC_MICROKERNELS_H_
#define TCONV_KERNEL_SRC_MICROKERNELS_H_

#include <cstdint>
#include <type_traits>

namespace tconv::internal {

// GEMM kernel over `m` pixels x nr output channels (nr fixed per variant), one tap and a
// chunk of kc input channels starting at channel c0:
//   out[r][n] = start[r][n] + sum_c a[r][c0 + c] * b[c*nr + n]          for n < n_valid,
// where start is init[n] when init is not null, else out[r][n] itself (a running sum; the
// driver splits a pixel's taps and channels into chunks that way, always in the same order).
// b is a packed [kc x nr] panel slice. 1 <= m <= the variant's mr; kc may be 0.
using GemmFn = void (*)(int64_t m, int64_t kc, const float* const* a, int64_t c0, const float* b,
                        const float* init, float* const* out, int64_t n_valid);

// GEMM kernel over all the taps of a tile at once, the accumulators staying in registers:
//   out[r][n] = init[n] + sum_t sum_c a[t*m + r][c] * b[t][c*nr + n]      for n < n_valid,
// taps in the order given, channels ascending: the same FMAs in the same order as one GemmFn
// call per tap and chunk, so the same bits. b[t] is the tap's packed [kc x nr] panel. For
// layers whose taps and channels are few, where GemmFn's running sums would go to memory and
// back after every 32-128 FMAs per element. ntaps may be 0 (the bias alone).
using GemmTapsFn = void (*)(int64_t m, int64_t ntaps, int64_t kc, const float* const* a,
                            const float* const* b, const float* init, float* const* out,
                            int64_t n_valid);

// Dot kernel for few output channels (1 <= f <= kMaxDotFilters): vectorised over channels.
//   out[r][j] = bias[j] + sum_t sum_c a[t*m + r][c] * w[t][j*kc + c]       for j < f.
// w[t] is the tap's [f x kc] slice of the Keras kernel. 1 <= m <= the set's dot_mr[f].
using DotFn = void (*)(int64_t m, int64_t f, int64_t kc, int64_t ntaps, const float* const* a,
                       const float* const* w, const float* bias, float* const* out);

// Transposes an 8 x 8 block: to[c * to_stride + r] = from[r * from_stride + c] for r, c < 8
// (the channels_first entry's layout changes, fast_layout.h).
using Transpose8Fn = void (*)(const float* from, int64_t from_stride, float* to, int64_t to_stride);

inline constexpr int kMaxDotFilters = 4;

// Calls fn(std::integral_constant<int, F>()) for the filter count f (1 <= f <= kMaxDotFilters):
// each instruction set compiles its dot kernels once per filter count.
template <typename Fn>
inline void WithFilterCount(int64_t f, Fn&& fn) {
  switch (f) {
    case 1:
      return fn(std::integral_constant<int, 1>());
    case 2:
      return fn(std::integral_constant<int, 2>());
    case 3:
      return fn(std::integral_constant<int, 3>());
    default:
      return fn(std::integral_constant<int, 4>());
  }
}
inline constexpr int kMaxGemmVariants = 3;

struct GemmVariant {
  int mr = 0;  // pixels per tile
  int nr = 0;  // output channels per tile (a multiple of the vector width)
  GemmFn fn = nullptr;
  // The same kernel, prefetching the panel ahead: for panels only one tile reads, which stream
  // from memory (null: use fn).
  GemmFn stream = nullptr;
  GemmTapsFn taps = nullptr;       // null: the driver calls fn per tap
  GemmTapsFn taps_relu = nullptr;  // taps with ReLU applied to what it stores
  // The tile's FMA rate relative to the set's fastest tile, measured (PickGemm weighs it
  // against the columns each variant pads).
  double rate = 1.0;
};

// The kernels of one instruction set. Variants are listed widest nr first.
struct KernelSet {
  const char* isa = "";
  GemmVariant gemm[kMaxGemmVariants];
  int num_gemm = 0;
  int dot_mr[kMaxDotFilters + 1] = {};  // pixels per tile, by filter count
  DotFn dot = nullptr;
  Transpose8Fn transpose8 = nullptr;
  // Whether the layer's transcendental activations use the AVX2 vector math (activations.h).
  bool vector_activations = false;
};

const KernelSet& ScalarKernels();
const KernelSet& Avx2Kernels();    // call only when the CPU has AVX2 and FMA
const KernelSet& Avx512Kernels();  // call only when the CPU has AVX-512 F/VL/BW/DQ

// The AVX2 transpose, which the AVX-512 set uses too (microkernels_avx2.cc).
void Transpose8Avx2(const float* from, int64_t from_stride, float* to, int64_t to_stride);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_MICROKERNELS_H_
