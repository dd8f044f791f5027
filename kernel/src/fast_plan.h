// Planning of the fast path, once per layer: the output phases of the strided transposed
// convolution and their taps, the microkernels and the cache blocking.
//
// A transposed convolution with stride s is s_h * s_w independent sub-convolutions, one per
// output phase (y mod s_h, x mod s_w): output pixel (m_y * s_h + phase_y, m_x * s_w + phase_x)
// gathers input pixel (m_y + offset_p, m_x + offset_q) through each tap (p, q) that lands on
// that phase. So no multiply-add lands on a cropped or zero position, and every phase is a
// GEMM (pixels x taps*C times taps*C x F) that the microkernels tile.
#ifndef TCONV_KERNEL_SRC_FAST_PLAN_H_
#define TCONV_KERNEL_SRC_FAST_PLAN_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "microkernels.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

// A kernel position along one axis that lands on an output phase: output m * s + phase reads
// input m + offset through it.
struct Tap {
  int64_t index;
  int64_t offset;
};

// The taps of one 2-D phase, in the order every pixel accumulates them (p-major).
struct PhaseTaps {
  std::vector<int64_t> kernel_index;  // p * kw + q
  std::vector<int64_t> offset_y, offset_x;
  int64_t size() const { return static_cast<int64_t>(kernel_index.size()); }
};

struct FastPlan {
  int64_t stride_y = 1, stride_x = 1;
  // Input offsets of the taps of each phase along each axis: [phase_y] and [phase_x].
  std::vector<std::vector<int64_t>> offsets_y, offsets_x;
  std::vector<PhaseTaps> phases;  // [phase_y * stride_x + phase_x]
  int64_t max_taps = 0;           // most taps of any phase
  const KernelSet* kernels = nullptr;
  bool dot = false;          // few filters: dot kernels over channels instead of GEMM tiles
  GemmVariant gemm;          // when !dot
  int64_t tile = 0;          // pixels per microkernel call
  int64_t n_blocks = 1;      // panels of gemm.nr output channels (1 for dot)
  int64_t chunk = 0;         // input channels per GEMM call: one packed slice fits in L1
  int64_t block_pixels = 0;  // pixels per work item, a multiple of tile: its outputs fit L1
  bool fuse_taps = false;    // one gemm.taps call per tile (kFusedTapBytes)
  double pixel_flops = 0;    // average multiply-add FLOPs per output pixel and panel
};

// The taps along one axis (0 = height, 1 = width), per output phase: [phase], kernel positions
// ascending. Spec §3.2's crop is applied.
std::vector<std::vector<Tap>> AxisTaps(const LayerConfig& config, int axis);

// The GEMM variant that computes `columns` output columns in the least time: the columns it
// pads them to over its tile's rate (GemmVariant::rate), the widest among equals.
GemmVariant PickGemm(const KernelSet& kernels, int64_t columns);

// GEMM cache blocking. One packed panel slice of kc channels x nr columns stays in L1 while the
// tiles of a work item reuse it, and so do the outputs of one work item. Tuned on pix2pix_up3
// (C = 1024): 64 KiB / 32 KiB beat 24 / 16 (fewer running-sum round trips, more reuse per slice).
inline constexpr int64_t kPanelBytes = 64 << 10;
inline constexpr int64_t kOutputBytes = 32 << 10;

// A phase's panels of one block of output channels, all taps, at most this many bytes: each
// tile then runs all its taps in one GemmTapsFn call, its sums in registers throughout, and
// rereads the panels from L1/L2 tile after tile instead of sharing each slice across the block.
// cvae_d1 (32 channels, 1-4 taps, 32 KiB), AVX-512, 1 thread: per-tap calls of kc = 32 ran at
// 92 GFLOP/s in isolation against 102 at kc = 128, and XNNPACK/tconv went from 0.71-0.76 to
// 0.79-0.89 (cvae_d2 0.73 -> 0.85-0.96). Layers of more channels keep the chunked loop: their
// slices shared from L1 across a block's tiles are worth more than the running sums' traffic.
inline constexpr int64_t kFusedTapBytes = 32 << 10;

// Input channels per GEMM call for panels `nr` wide: a slice of at most kPanelBytes (at least
// 16 channels, at most `channels`).
inline int64_t ChunkChannels(int64_t nr, int64_t channels) {
  return std::clamp<int64_t>(kPanelBytes / (nr * int64_t{sizeof(float)}), 16, channels);
}

// Pixels per work item for a GEMM variant: a multiple of its tile whose outputs of one panel
// fit kOutputBytes.
inline int64_t BlockPixels(const GemmVariant& gemm) {
  const int64_t pixels = kOutputBytes / (gemm.nr * int64_t{sizeof(float)});
  return std::max<int64_t>(1, pixels / gemm.mr) * gemm.mr;
}

// `config` is validated; `channels` is the input channel count.
FastPlan MakePlan(const LayerConfig& config, int64_t channels, const KernelSet& kernels);

// Most runs SplitRuns can return (two edges per tap, plus one).
inline constexpr int kMaxRuns = 2 * LayerLimits::kMaxKernelSize + 2;

// Splits the `len` rows (or columns) of a phase into runs of consecutive rows that reach the
// input through the same taps (`offsets`, input length n): bounds[0] = 0 < ... < bounds[count]
// = len. Tiles never straddle runs, so a tile skips exactly the taps its pixels all miss.
int SplitRuns(const std::vector<int64_t>& offsets, int64_t n, int64_t len,
              int64_t bounds[kMaxRuns + 1]);

// Output rows (or columns) of `phase` in an output of length `out`.
inline int64_t PhaseLength(int64_t out, int64_t stride, int64_t phase) {
  return phase < out ? (out - phase + stride - 1) / stride : 0;
}

// The first row (or column) of an output phase, counted in that phase, whose output row is at
// or after output row `y`.
inline int64_t FirstPhaseRow(int64_t y, int64_t stride, int64_t phase) {
  return y <= phase ? 0 : (y - phase + stride - 1) / stride;
}

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_PLAN_H_
