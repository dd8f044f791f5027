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

// What every tile of a block needs from the plan, the shape and the region, read once per
// block into values the compiler can keep in registers (the stores to the lists would
// otherwise make it reload them through the references, and divide the phase again, per tile).
// With the unsigned bounds test below: cvae_d1's phases (batch 32) took 18.0 / 12.9 / 12.9 /
// 10.2 ticks per pixel in BuildBlock instead of 23.4 / 16.7 / 16.7 / 13.0.
struct Geometry {
  const float* input;
  float* output;
  const float* zeros;
  int64_t channels, filters, tile;
  int64_t in_h, in_w, in_rows, in_y0;
  int64_t out_w, out_rows, out_y0, out_plane;
  int64_t stride_y, stride_x, phase_y, phase_x;
  int64_t x0, x1, y0, y1;
  int64_t ntaps;
  const int64_t *offset_y, *offset_x;
  bool channels_first_output;
};

// One tile of `rows` pixels of the region from pixel `at`, which it advances to the next tile's:
// a[t * tile + r] for every tap t (the zero row where the tap misses the input), keep[t], out[r].
void BuildTile(const Geometry& g, Position& at, int64_t rows, const float** a, char* keep,
               float** out, int64_t* nchw, float* staging, int64_t staging_width) {
  // Pixel r is (ex, my[r], mx[r]); base[r] is where it would read through a tap of offset 0.
  int64_t my[kMaxTile], mx[kMaxTile];
  const float* base[kMaxTile];
  int64_t x = at.x, y = at.y, ex = at.ex;
  for (int64_t r = 0; r < rows; ++r) {
    my[r] = y;
    mx[r] = x;
    base[r] = g.input + ((ex * g.in_rows + y - g.in_y0) * g.in_w + x) * g.channels;
    const int64_t out_y = y * g.stride_y + g.phase_y, out_x = x * g.stride_x + g.phase_x;
    if (g.channels_first_output) {
      out[r] = staging + r * staging_width;
      nchw[r] = ex * g.filters * g.out_plane + out_y * g.out_w + out_x;
    } else {
      out[r] = g.output + ((ex * g.out_rows + out_y - g.out_y0) * g.out_w + out_x) * g.filters;
    }
    if (++x == g.x1) {
      x = g.x0;
      if (++y == g.y1) y = g.y0, ++ex;
    }
  }
  at = {ex, y, x};
  for (int64_t t = 0; t < g.ntaps; ++t) {
    const int64_t dy = g.offset_y[t], dx = g.offset_x[t];
    const int64_t delta = (dy * g.in_w + dx) * g.channels;
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
      // 0 <= i < n as one unsigned compare per axis, without branches.
      const bool inside =
          (uint64_t(my[r] + dy) < uint64_t(g.in_h)) & (uint64_t(mx[r] + dx) < uint64_t(g.in_w));
      a[t * g.tile + r] = inside ? base[r] + delta : g.zeros;
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
  const PhaseTaps& phase_taps = plan.phases[region.phase];
  const Geometry g = {shape.input,
                      shape.output,
                      zeros,
                      channels,
                      filters,
                      tile,
                      shape.in_h,
                      shape.in_w,
                      shape.in_rows,
                      shape.in_y0,
                      shape.out_w,
                      shape.OutRows(),
                      shape.out_y0,
                      shape.out_h * shape.out_w,
                      plan.stride_y,
                      plan.stride_x,
                      region.phase / plan.stride_x,
                      region.phase % plan.stride_x,
                      region.x0,
                      region.x1,
                      region.y0,
                      region.y1,
                      phase_taps.size(),
                      phase_taps.offset_y.data(),
                      phase_taps.offset_x.data(),
                      staged};
  // Divided once per block, not per tile.
  const int64_t width = region.x1 - region.x0, height = region.y1 - region.y0;
  Position at = {first / width / height, region.y0 + first / width % height,
                 region.x0 + first % width};
  for (int64_t i = 0; i < block.tiles; ++i) {
    const int64_t start = first + i * tile;
    block.rows[i] = std::min(tile, last - start);
    BuildTile(g, at, block.rows[i], &block.a[i * taps * tile], &block.keep[i * taps],
              &block.out[i * tile], staged ? &block.nchw[i * tile] : nullptr,
              staged ? &block.staging[i * tile * block.staging_width] : nullptr,
              block.staging_width);
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
