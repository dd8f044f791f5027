#include "fast_block.h"

#include <algorithm>

namespace tconv::internal {
namespace {

// Output planes of at most this many floats (a cache line) are scattered pixel by pixel.
constexpr int64_t kSmallPlane = 16;

// A pixel of a region: example, row and column (in the phase's grid).
struct Position {
  int64_t ex, y, x;
};

// One tile of `rows` pixels of `region` from pixel `at`, which it advances to the next tile's:
// a[t * tile + r] for every tap t (the zero row where the tap misses the input), keep[t], out[r].
void BuildTile(const FastPlan& plan, const float* zeros, int64_t channels, int64_t filters,
               const RunShape& shape, const Region& region, Position& at, int64_t rows,
               const float** a, char* keep, float** out, int64_t* nchw, float* staging,
               int64_t staging_width) {
  const int64_t phase_y = region.phase / plan.stride_x, phase_x = region.phase % plan.stride_x;
  // Pixel r is (ex, my[r], mx[r]); base[r] is where it would read through a tap of offset 0.
  int64_t my[kMaxTile], mx[kMaxTile];
  const float* base[kMaxTile];
  int64_t x = at.x, y = at.y, ex = at.ex;
  for (int64_t r = 0; r < rows; ++r) {
    my[r] = y;
    mx[r] = x;
    base[r] = shape.input + ((ex * shape.in_rows + y - shape.in_y0) * shape.in_w + x) * channels;
    const int64_t out_y = y * plan.stride_y + phase_y, out_x = x * plan.stride_x + phase_x;
    if (shape.channels_first_output) {
      out[r] = staging + r * staging_width;
      nchw[r] = ex * filters * shape.out_h * shape.out_w + out_y * shape.out_w + out_x;
    } else {
      out[r] = shape.output +
               ((ex * shape.OutRows() + out_y - shape.out_y0) * shape.out_w + out_x) * filters;
    }
    if (++x == region.x1) {
      x = region.x0;
      if (++y == region.y1) y = region.y0, ++ex;
    }
  }
  at = {ex, y, x};
  const PhaseTaps& taps = plan.phases[region.phase];
  for (int64_t t = 0; t < taps.size(); ++t) {
    const int64_t dy = taps.offset_y[t], dx = taps.offset_x[t];
    const int64_t delta = (dy * shape.in_w + dx) * channels;
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t iy = my[r] + dy, ix = mx[r] + dx;
      const bool inside = iy >= 0 && iy < shape.in_h && ix >= 0 && ix < shape.in_w;
      a[t * plan.tile + r] = inside ? base[r] + delta : zeros;
      any |= inside;
    }
    keep[t] = any;
  }
}

}  // namespace

void BuildBlock(const FastPlan& plan, const float* zeros, int64_t channels, int64_t filters,
                const RunShape& shape, const Region& region, int64_t first, Block& block) {
  const int64_t last = std::min(first + plan.block_pixels, region.Pixels(shape.batch));
  const int64_t tile = plan.tile, taps = plan.max_taps;
  block.phase = region.phase;
  block.y0 = region.y0;
  block.x0 = region.x0;
  block.first = first;
  block.tiles = (last - first + tile - 1) / tile;
  const size_t tiles = block.tiles;
  if (block.a.size() < tiles * taps * tile) block.a.resize(tiles * taps * tile);
  if (block.keep.size() < tiles * taps) block.keep.resize(tiles * taps);
  if (block.rows.size() < tiles) block.rows.resize(tiles);
  if (block.started.size() < tiles) block.started.resize(tiles);
  if (block.out.size() < tiles * tile) block.out.resize(tiles * tile);
  if (shape.channels_first_output) {
    block.staging_width = plan.dot ? filters : plan.gemm.nr;
    if (block.nchw.size() < tiles * tile) block.nchw.resize(tiles * tile);
    if (block.staging.size() < tiles * tile * block.staging_width) {
      block.staging.resize(tiles * tile * block.staging_width);
    }
  }
  if (block.dot_a.size() < size_t(taps * tile)) block.dot_a.resize(taps * tile);
  if (block.dot_w.size() < size_t(taps)) block.dot_w.resize(taps);
  const bool staged = shape.channels_first_output;
  // Divided once per block, not per tile: BuildBlock for cvae_d1's phases (batch 32) took
  // 23.5 / 16.5 / 16.7 / 13.0 ticks per pixel instead of 25.3 / 18.5 / 18.6 / 15.1.
  const int64_t width = region.x1 - region.x0, height = region.y1 - region.y0;
  Position at = {first / width / height, region.y0 + first / width % height,
                 region.x0 + first % width};
  for (int64_t i = 0; i < block.tiles; ++i) {
    const int64_t start = first + i * tile;
    block.rows[i] = std::min(tile, last - start);
    BuildTile(
        plan, zeros, channels, filters, shape, region, at, block.rows[i], &block.a[i * taps * tile],
        &block.keep[i * taps], &block.out[i * tile], staged ? &block.nchw[i * tile] : nullptr,
        staged ? &block.staging[i * tile * block.staging_width] : nullptr, block.staging_width);
  }
}

void ScatterToChannelsFirst(const Block& block, int64_t tile, int64_t f0, int64_t count,
                            int64_t plane, float* output) {
  const int64_t width = block.staging_width, pixels = block.Pixels(tile);
  const float* staging = block.staging.data();
  const int64_t* where = block.nchw.data();
  float* panel = output + f0 * plane;
  // Small planes (a few output pixels per example): pixel by pixel, so the stores run along a
  // pixel's channels `plane` floats apart. Channel by channel there, the stores of one channel
  // would jump from example to example (pix2pix_up1: 8 KiB apart, all in one L1 set), and the
  // scatter took a third of the call.
  if (plane <= kSmallPlane) {
    for (int64_t p = 0; p < pixels; ++p) {
      for (int64_t f = 0; f < count; ++f) panel[f * plane + where[p]] = staging[p * width + f];
    }
    return;
  }
  // Else channel by channel: the stores run along output rows. (8 x 8 transposes in vector
  // registers, with masked stores for stride-2 phases, were slower: the cost is the output
  // lines' round trips to memory, not the instructions.)
  for (int64_t f = 0; f < count; ++f) {
    for (int64_t p = 0; p < pixels; ++p) panel[f * plane + where[p]] = staging[p * width + f];
  }
}

}  // namespace tconv::internal
