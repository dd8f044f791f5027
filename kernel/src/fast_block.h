// Indirection lists of the fast path: for a block of output pixels of one region, where each
// pixel reads its input through each tap and where it writes. Built per work item by the
// driver (fast_tiled.cc); pure functions of pointers and sizes.
#ifndef TCONV_KERNEL_SRC_FAST_BLOCK_H_
#define TCONV_KERNEL_SRC_FAST_BLOCK_H_

#include <cstdint>
#include <vector>

#include "fast_plan.h"

namespace tconv::internal {

inline constexpr int kMaxTile = 16;  // >= every kernel set's mr and dot_mr

// What a call computes: output rows [out_y0, out_y1) of every example (a band of the
// channels_first entry, fast_tiled_channels_first.cc; else all of them), from input rows [in_y0,
// in_y0 + in_rows) (the rows the band reads).
struct RunShape {
  // The whole output of an NHWC input.
  static RunShape Whole(const float* input, float* output, int64_t batch, int64_t in_h,
                        int64_t in_w, int64_t out_h, int64_t out_w) {
    return {input, output, batch, in_h, in_w, out_h, out_w, 0, in_h, 0, out_h};
  }
  int64_t OutRows() const { return out_y1 - out_y0; }

  const float* input;  // NHWC, in_rows rows per example
  float* output;       // NHWC, OutRows() rows per example; or all of NCHW (channels_first_output)
  int64_t batch, in_h, in_w, out_h, out_w;
  int64_t in_y0, in_rows, out_y0, out_y1;
  // Items compute into the block's staging rows, then ScatterToChannelsFirst writes them.
  bool channels_first_output = false;
};

// Rows [y0, y1) x columns [x0, x1) of a phase's output grid, in every example.
struct Region {
  int64_t phase, y0, y1, x0, x1;
  int64_t Pixels(int64_t batch) const { return batch * (y1 - y0) * (x1 - x0); }
};

// The indirection lists of one block of pixels, per thread, grown once and then reused (no
// allocation per call once warm).
struct Block {
  int64_t phase = -1, y0 = -1, x0 = -1, first = -1;  // which block they describe
  int64_t tiles = 0;
  std::vector<const float*> a;  // [tile][tap][row]: every tap of the phase
  std::vector<char> keep;       // [tile][tap]: the tap reaches the input for some row
  std::vector<int64_t> rows;    // [tile]
  std::vector<float*> out;      // [tile][row]: channel 0 of the output pixel (or staging row)
  std::vector<int64_t> nchw;    // [tile][row]: the pixel's channel 0 in an NCHW output
  std::vector<float> staging;   // [tile][row][staging_width]: an item's NCHW-bound results
  int64_t staging_width = 0;    // floats per staging row: the panel width (or F for dot)
  std::vector<char> started;    // [tile]: its running sums are in the output
  std::vector<const float*> dot_a, dot_w;  // the kept taps of one tile, for the dot kernels

  // Pixels of the block, numbered tile by tile (every tile but the last is full), which is
  // also how staging and nchw hold them.
  int64_t Pixels(int64_t tile) const {
    return tiles == 0 ? 0 : (tiles - 1) * tile + rows[tiles - 1];
  }
};

// Fills `block` for pixels [first, first + plan.block_pixels) of `region` (fewer at its end).
// `zeros` is a row of `channels` zeros, read by taps that miss the input.
// With shape.channels_first_output, out[] points into block.staging and nchw[] says where each
// row belongs.
void BuildBlock(const FastPlan& plan, const float* zeros, int64_t channels, int64_t filters,
                const RunShape& shape, const Region& region, int64_t first, Block& block);

// Writes the staged channels [f0, f0 + count) of every pixel of `block` to the NCHW `output`
// of `plane` = out_h * out_w pixels per channel (the staging rows are in L1).
void ScatterToChannelsFirst(const Block& block, int64_t tile, int64_t f0, int64_t count,
                            int64_t plane, float* output);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_BLOCK_H_
