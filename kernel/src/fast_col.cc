#include "fast_col.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "fast_block.h"
#include "fast_col_scratch.h"
#include "fast_pack.h"
#include "fast_plan.h"
#include "microkernels.h"
#include "parallel.h"

namespace tconv::internal {
namespace {

// A GEMM task is at least 8 MFLOP (~70 us here): with 4 MFLOP, dcgan_g3 and cvae_d3 at batch 8
// (6-7 MFLOP) ran 10-20% slower on 2 threads than on 1; at batch 32 they still split (1.3-1.5x).
// A gather task is at least 64 Ki additions (~25 us).
constexpr double kMinGemmTaskFlops = 8e6;
constexpr int64_t kMinGatherTaskAdds = 64 << 10;
// The col matrix of one pass over the batch is at most this many floats (2 MiB, the L2 of a
// core here) unless one example alone needs more: with 32 MiB passes, unet_last at batch 8 took
// 4.8 ms instead of 3.0, and a 1-channel 7x7 layer with 4 filters at batch 8 lost to the dot
// path with AVX2 (15.8 ms vs 13.8; 5.7 ms with 2 MiB passes). Beyond kMaxExampleColFloats
// (256 MiB) per example, the fallback runs instead.
constexpr int64_t kMaxColFloats = int64_t{512} << 10;
constexpr int64_t kMaxExampleColFloats = int64_t{64} << 20;
// The channels_last GEMM reads each input row once, in its first panel, 6 rows side by side
// for 10 lines or so each: too short for the hardware prefetchers to follow, so a call whose
// input came from memory waited on every line (unet_last at batch 8 took 1.0 ms per example,
// 0.6 at batch 1 with the input cached, 1.0-1.2 with the caches flushed before the call). In
// calls of at least kPrefetchInputBytes of input, the first panel prefetches the rows of the
// tile kPrefetchTiles on. Measured at 1 thread (AVX2; calls with and without interleaved in
// one process): pix2pix_last (8 MiB of input) 0.81-0.83 of the time, unet_last at batch 8
// (21 MiB) 0.77-0.82 (0.75 at 2 threads); calls of 0.1-3 MiB, whose input stays cached between
// calls, took 2-6% longer with it, so they go without.
constexpr int64_t kPrefetchTiles = 2;
constexpr int64_t kPrefetchInputBytes = int64_t{4} << 20;

// Sums one output row of F filters: out[x][f] = bias[f] + rows[k][x_offsets[x][j] + f] over
// k < ny (kernel rows, p ascending), then j < x_count[x] (kernel columns, q ascending).
template <int F>
void GatherRow(const float* const* rows, int64_t ny, const int64_t* x_offsets,
               const int64_t* x_count, int64_t kw, int64_t out_w, const float* bias, float* out) {
  for (int64_t x = 0; x < out_w; ++x, x_offsets += kw, out += F) {
    float acc[F];
    for (int f = 0; f < F; ++f) acc[f] = bias[f];
    for (int64_t k = 0; k < ny; ++k) {
      for (int64_t j = 0; j < x_count[x]; ++j) {
        const float* c = rows[k] + x_offsets[j];
        for (int f = 0; f < F; ++f) acc[f] += c[f];
      }
    }
    for (int f = 0; f < F; ++f) out[f] = acc[f];
  }
}

using GatherRowFn = void (*)(const float* const*, int64_t, const int64_t*, const int64_t*, int64_t,
                             int64_t, const float*, float*);
constexpr GatherRowFn kGatherRows[kMaxDotFilters + 1] = {nullptr, GatherRow<1>, GatherRow<2>,
                                                         GatherRow<3>, GatherRow<4>};

// Sums one output row of one filter of an NCHW output from colT rows (channels_first), in
// GatherRow<1>'s order for each pixel (bias, kernel rows k ascending, then the row's taps q
// ascending), but one phase x = m * stride + phase at a time: where all of a phase's taps exist,
// its pixels read each colT row at consecutive m, so their sums run as vector adds. GatherRow<1>
// over the whole row spent several instructions per add on one pixel's table entries
// (pix2pix_last's channels_first gather took 1.9x its channels_last gather's time, which shares
// them among 3 filters). Pixels whose taps fall off the input take GatherRow<1>.
// colT rows of kernel column q are q * tap_step floats past rows[k].
void GatherPlaneRow(const float* const* rows, int64_t ny,
                    const std::vector<std::vector<Tap>>& taps_x, int64_t in_w, int64_t tap_step,
                    const int64_t* x_offsets, const int64_t* x_count, int64_t kw, int64_t out_w,
                    float bias, float* out) {
  constexpr int64_t kSpan = 256;
  float acc[kSpan];
  const auto stride = static_cast<int64_t>(taps_x.size());
  for (int64_t phase = 0; phase < stride; ++phase) {
    const std::vector<Tap>& taps = taps_x[phase];
    const int64_t length = PhaseLength(out_w, stride, phase);
    // [lo, hi): the phase's pixels m with every input column m + offset inside [0, in_w).
    int64_t lo = 0, hi = length;
    for (const Tap& tap : taps) {
      lo = std::max(lo, -tap.offset);
      hi = std::min(hi, in_w - tap.offset);
    }
    if (hi < lo) lo = hi = length;  // no pixel has all its taps: 0 <= lo <= hi <= length
    for (int64_t m0 = lo; m0 < hi; m0 += kSpan) {
      const int64_t n = std::min(kSpan, hi - m0);
      std::fill(acc, acc + n, bias);
      for (int64_t k = 0; k < ny; ++k) {
        for (const Tap& tap : taps) {
          const float* from = rows[k] + tap.index * tap_step + m0 + tap.offset;
          for (int64_t i = 0; i < n; ++i) acc[i] += from[i];
        }
      }
      for (int64_t i = 0; i < n; ++i) out[(m0 + i) * stride + phase] = acc[i];
    }
    auto gather_pixel = [&](int64_t m) {
      const int64_t x = m * stride + phase;
      GatherRow<1>(rows, ny, x_offsets + x * kw, x_count + x, kw, 1, &bias, out + x);
    };
    for (int64_t m = 0; m < lo; ++m) gather_pixel(m);
    for (int64_t m = hi; m < length; ++m) gather_pixel(m);
  }
}

// Panels PackPixelPanels fills per pass over the channel planes. Reading a panel's few floats
// from each of the kc planes, a panel at a time, touched the kc planes' lines over and over:
// with planes a power of two apart (pix2pix_last: 128 planes of 64 KiB) all of them fall in
// the same L1 and L2 sets, so the line a panel left half read was gone for the next one, and
// so were lines prefetched ahead. A group reads each plane's span in one go.
constexpr int64_t kPackPanels = 4;
constexpr int64_t kFloatsPerLine = 64 / sizeof(float);

// Copies pixels [q0, q0 + count) of a pass (flat over its NCHW examples of `pixels` pixels
// and `channels` channels), channels [c0, c0 + kc), into ceil(count / nr) consecutive
// [kc x nr] GEMM panels, panel g holding pixels from q0 + g * nr on; the last panel's columns
// past the pixels are zero. Each plane's span is prefetched for the next group.
void PackPixelPanels(const float* input, int64_t channels, int64_t pixels, int64_t q0,
                     int64_t count, int64_t c0, int64_t kc, int64_t nr, float* panels) {
  const int64_t first_example = q0 / pixels, first_pixel = q0 % pixels;
  for (int64_t c = 0; c < kc; ++c) {
    int64_t example = first_example, pixel = first_pixel, column = 0;
    float* to = panels + c * nr;
    const float* next = input + (example * channels + c0 + c) * pixels + pixel + count;
    for (int64_t k = 0; k < count; k += kFloatsPerLine) __builtin_prefetch(next + k);
    for (int64_t j = 0; j < count;) {
      const int64_t run = std::min({count - j, pixels - pixel, nr - column});
      const float* from = input + (example * channels + c0 + c) * pixels + pixel;
      std::memcpy(to + column, from, run * sizeof(float));
      j += run, pixel += run, column += run;
      if (pixel == pixels) ++example, pixel = 0;
      if (column == nr) to += kc * nr, column = 0;
    }
  }
  if (const int64_t used = count % nr; used != 0) {
    float* last = panels + count / nr * kc * nr;
    for (int64_t c = 0; c < kc; ++c) std::fill(last + c * nr + used, last + (c + 1) * nr, 0.0f);
  }
}

// The GEMM variant for the channels_first GEMM, whose rows are the layer's few col columns and
// whose panels are pixels: the one that loads the fewest values (broadcast weights plus panel
// vectors) per pixel and channel, counting the padding of the last panel. The narrowest
// variant's nr is the vector width.
GemmVariant PickPixelGemm(const KernelSet& kernels, int64_t rows, int64_t pixels) {
  const int64_t lanes = kernels.gemm[kernels.num_gemm - 1].nr;
  GemmVariant best;
  int64_t best_loads = 0;
  for (int i = 0; i < kernels.num_gemm; ++i) {
    const GemmVariant& v = kernels.gemm[i];
    const int64_t panels = (pixels + v.nr - 1) / v.nr;
    const int64_t blocks = (rows + v.mr - 1) / v.mr;
    const int64_t loads = panels * (rows + blocks * (v.nr / lanes));
    if (i == 0 || loads < best_loads) best = v, best_loads = loads;
  }
  return best;
}

struct CallShape {
  int64_t batch, in_h, in_w, out_h, out_w;
};

// channels_last computes col[pixel][n] = sum_c in[pixel][c] * w[n][c] with the packed weights
// as panels; channels_first computes its transpose colT[n][pixel] = sum_c w[n][c] * in[c][pixel]
// with the kernel rows as the GEMM's rows and panels of pixels packed from the NCHW input, so it
// needs no transpose of the input or output. Both sum the same products in the same order
// (channels ascending, one FMA each) and gather the taps in the same order: the two layouts
// give the same bits.
class ColConv final : public FastConv2DTranspose {
 public:
  ColConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights,
          std::unique_ptr<const FastConv2DTranspose> fallback);
  void Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
           const ComputePool& pool) const override;
  void RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                        float* output, const ComputePool& pool) const override;
  // AppliesActivation() stays false: the col path leaves the activation to the layer, and where
  // the fallback has applied a ReLU already, applying it again gives the same bits.
  int64_t packed_bytes() const override {
    return (packed_.size() + rows_.size() + bias_.size()) * int64_t{sizeof(float)} +
           fallback_->packed_bytes();
  }

 private:
  CallShape Shape(int64_t batch, int64_t in_h, int64_t in_w) const {
    return {batch, in_h, in_w, config_.OutputLength(in_h, 0), config_.OutputLength(in_w, 1)};
  }
  // Examples per pass, so that a pass's col matrix stays near kMaxColFloats.
  int64_t PassExamples(const CallShape& shape) const {
    return std::clamp<int64_t>(kMaxColFloats / (shape.in_h * shape.in_w * width_), 1, shape.batch);
  }
  int64_t GemmGrain(double item_flops) const {
    return static_cast<int64_t>(std::max(1.0, kMinGemmTaskFlops / item_flops));
  }
  int64_t GatherGrain(const CallShape& shape, int64_t filters_per_row) const {
    const int64_t taps_per_output = std::max<int64_t>(
        1, config_.kernel_size[0] * kw_ / (config_.strides[0] * config_.strides[1]));
    return std::max<int64_t>(
        1, kMinGatherTaskAdds / (shape.out_w * filters_per_row * taps_per_output));
  }
  // col rows [first, last) (pixels of the pass, flat), every panel; `prefetch`: the first
  // panel prefetches input rows ahead (kPrefetchInputBytes).
  void GemmPixels(const float* input, int64_t first, int64_t last, bool prefetch, float* col) const;
  // colT columns [first, last) (pixels of the pass, flat; `pixels` per example) with `gemm`;
  // colT rows are `row_length` floats apart.
  void GemmPixelsTransposed(const float* input, int64_t pixels, const GemmVariant& gemm,
                            int64_t first, int64_t last, int64_t row_length, float* col) const;
  // x_offsets[x * kw + j]: where column x's j-th existing tap q reads, ix * pixel_step +
  // q * tap_step past the row's start; x_count[x] of them.
  void BuildColumnTable(const CallShape& shape, int64_t pixel_step, int64_t tap_step,
                        ColScratch& scratch) const;
  // Output rows [begin, end) of the pass, flat over (example, y): NHWC.
  void GatherRows(const CallShape& shape, const float* col, const ColScratch& scratch,
                  int64_t begin, int64_t end, float* output) const;
  // Output rows [begin, end) of the pass, flat over (example, filter, y): NCHW.
  void GatherRowsTransposed(const CallShape& shape, const float* col, int64_t row_length,
                            const ColScratch& scratch, int64_t begin, int64_t end,
                            float* output) const;

  LayerConfig config_;
  int64_t channels_, filters_, kw_;
  int64_t columns_;  // kh * kw * filters: col columns (colT rows), n = (p * kw + q) * F + f
  std::vector<std::vector<Tap>> taps_y_, taps_x_;
  GemmVariant gemm_;
  int64_t width_;         // col columns padded to panels of gemm_.nr
  int64_t chunk_;         // input channels per GEMM call
  int64_t block_pixels_;  // col rows per GEMM work item, a multiple of gemm_.mr
  AlignedFloats packed_;  // per panel j, [C x nr]: packed_[(j * C + c) * nr + n] = w[j*nr+n][c]
  AlignedFloats rows_;    // [columns_ x C]: the Keras kernel, the channels_first GEMM's rows
  AlignedFloats bias_;    // filters_ start values (-0 as +0, as fast_pack.cc)
  AlignedFloats zeros_;   // the kernel set's widest panel of zeros: the GEMMs' start values
  // Runs inputs whose col matrix per example would exceed kMaxExampleColFloats.
  std::unique_ptr<const FastConv2DTranspose> fallback_;
};

ColConv::ColConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights,
                 std::unique_ptr<const FastConv2DTranspose> fallback)
    : FastConv2DTranspose(fallback->kernels()),
      config_(config),
      channels_(channels),
      filters_(config.filters),
      kw_(config.kernel_size[1]),
      columns_(config.kernel_size[0] * kw_ * filters_),
      taps_y_(AxisTaps(config, 0)),
      taps_x_(AxisTaps(config, 1)),
      gemm_(PickGemm(kernels(), columns_)),
      width_((columns_ + gemm_.nr - 1) / gemm_.nr * gemm_.nr),
      chunk_(ChunkChannels(gemm_.nr, channels)),
      block_pixels_(BlockPixels(gemm_)),
      packed_(width_ * channels),
      rows_(columns_ * channels),
      bias_(filters_),
      zeros_(kernels().gemm[0].nr),
      fallback_(std::move(fallback)) {
  // Keras' kernel is [kh][kw][F][C]: column n = tap * F + f of the col GEMM is row n of it.
  const int64_t nr = gemm_.nr;
  for (int64_t n = 0; n < columns_; ++n) {
    float* panel = packed_.data() + n / nr * channels * nr + n % nr;
    for (int64_t c = 0; c < channels; ++c) panel[c * nr] = weights.kernel[n * channels + c];
  }
  std::copy(weights.kernel.begin(), weights.kernel.end(), rows_.data());
  for (size_t f = 0; f < weights.bias.size(); ++f) {
    bias_.data()[f] = weights.bias[f] == 0.0f ? 0.0f : weights.bias[f];
  }
}

void ColConv::Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
                  const ComputePool& pool) const {
  if (in_h * in_w * width_ > kMaxExampleColFloats) {
    return fallback_->Run(input, batch, in_h, in_w, output, pool);
  }
  const CallShape shape = Shape(batch, in_h, in_w);
  const int64_t example_pixels = in_h * in_w, group = PassExamples(shape);
  ColScratchLease lease;
  ColScratch& scratch = *lease;
  float* col = scratch.col.Get(group * example_pixels * width_);
  BuildColumnTable(shape, width_, filters_, scratch);
  const int64_t gemm_grain = GemmGrain(2.0 * double(block_pixels_ * channels_ * width_));
  const int64_t gather_grain = GatherGrain(shape, filters_);
  const bool prefetch =
      batch * example_pixels * channels_ * int64_t{sizeof(float)} >= kPrefetchInputBytes;
  for (int64_t first = 0; first < batch; first += group) {
    CallShape pass = shape;
    pass.batch = std::min(group, batch - first);
    const float* in = input + first * example_pixels * channels_;
    const int64_t pixels = pass.batch * example_pixels;
    const int64_t items = (pixels + block_pixels_ - 1) / block_pixels_;
    ParallelFor(pool, items, gemm_grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        GemmPixels(in, i * block_pixels_, std::min(pixels, (i + 1) * block_pixels_), prefetch, col);
      }
    });
    float* out = output + first * shape.out_h * shape.out_w * filters_;
    ParallelFor(pool, pass.batch * shape.out_h, gather_grain, [&](int64_t begin, int64_t end) {
      GatherRows(pass, col, scratch, begin, end, out);
    });
  }
}

void ColConv::RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                               float* output, const ComputePool& pool) const {
  if (in_h * in_w * width_ > kMaxExampleColFloats) {
    return fallback_->RunChannelsFirst(input, batch, in_h, in_w, output, pool);
  }
  const CallShape shape = Shape(batch, in_h, in_w);
  const int64_t example_pixels = in_h * in_w, group = PassExamples(shape);
  const GemmVariant gemm = PickPixelGemm(kernels(), columns_, group * example_pixels);
  const int64_t row_length = (group * example_pixels + gemm.nr - 1) / gemm.nr * gemm.nr;
  ColScratchLease lease;
  ColScratch& scratch = *lease;
  float* col = scratch.col.Get(columns_ * row_length);
  BuildColumnTable(shape, 1, filters_ * row_length, scratch);
  const int64_t gemm_grain = GemmGrain(2.0 * double(columns_ * channels_ * gemm.nr));
  const int64_t gather_grain = GatherGrain(shape, 1);
  for (int64_t first = 0; first < batch; first += group) {
    CallShape pass = shape;
    pass.batch = std::min(group, batch - first);
    const float* in = input + first * channels_ * example_pixels;
    const int64_t pixels = pass.batch * example_pixels;
    ParallelFor(pool, (pixels + gemm.nr - 1) / gemm.nr, gemm_grain,
                [&](int64_t begin, int64_t end) {
                  GemmPixelsTransposed(in, example_pixels, gemm, begin * gemm.nr,
                                       std::min(pixels, end * gemm.nr), row_length, col);
                });
    float* out = output + first * filters_ * shape.out_h * shape.out_w;
    ParallelFor(pool, pass.batch * filters_ * shape.out_h, gather_grain,
                [&](int64_t begin, int64_t end) {
                  GatherRowsTransposed(pass, col, row_length, scratch, begin, end, out);
                });
  }
}

void ColConv::GemmPixels(const float* input, int64_t first, int64_t last, bool prefetch,
                         float* col) const {
  const int64_t mr = gemm_.mr, nr = gemm_.nr;
  const float* a[kMaxTile];
  float* out[kMaxTile];
  for (int64_t panel = 0; panel < width_ / nr; ++panel) {
    const float* b = packed_.data() + panel * channels_ * nr;
    for (int64_t c0 = 0; c0 < channels_; c0 += chunk_) {
      const int64_t kc = std::min(chunk_, channels_ - c0);
      for (int64_t p = first; p < last; p += mr) {
        const int64_t m = std::min(mr, last - p);
        if (prefetch && panel == 0 && c0 == 0) {  // rows [ahead, ahead + mr), if in the item
          const int64_t ahead = p + kPrefetchTiles * mr;
          const int64_t floats = (std::min(last, ahead + mr) - ahead) * channels_;
          for (int64_t k = 0; k < floats; k += kFloatsPerLine) {
            __builtin_prefetch(input + ahead * channels_ + k);
          }
        }
        for (int64_t r = 0; r < m; ++r) {
          a[r] = input + (p + r) * channels_;
          out[r] = col + (p + r) * width_ + panel * nr;
        }
        gemm_.fn(m, kc, a, c0, b + c0 * nr, c0 == 0 ? zeros_.data() : nullptr, out, nr);
      }
    }
  }
}

void ColConv::GemmPixelsTransposed(const float* input, int64_t pixels, const GemmVariant& gemm,
                                   int64_t first, int64_t last, int64_t row_length,
                                   float* col) const {
  const int64_t mr = gemm.mr, nr = gemm.nr, group = kPackPanels * nr;
  // kPackPanels [kc x nr] panels of kPanelBytes at most (every variant's nr is <= 256, so the
  // 16-channel floor never exceeds it).
  const int64_t chunk = ChunkChannels(group, channels_);
  alignas(64) float panels[kPanelBytes / sizeof(float)];
  const float* a[kMaxTile];
  float* out[kMaxTile];
  for (int64_t q0 = first; q0 < last; q0 += group) {
    const int64_t count = std::min(group, last - q0);
    for (int64_t c0 = 0; c0 < channels_; c0 += chunk) {
      const int64_t kc = std::min(chunk, channels_ - c0);
      PackPixelPanels(input, channels_, pixels, q0, count, c0, kc, nr, panels);
      for (int64_t g = 0; g * nr < count; ++g) {
        const float* panel = panels + g * kc * nr;
        for (int64_t n = 0; n < columns_; n += mr) {
          const int64_t m = std::min(mr, columns_ - n);
          for (int64_t r = 0; r < m; ++r) {
            a[r] = rows_.data() + (n + r) * channels_;
            out[r] = col + (n + r) * row_length + q0 + g * nr;
          }
          gemm.fn(m, kc, a, c0, panel, c0 == 0 ? zeros_.data() : nullptr, out,
                  std::min(nr, count - g * nr));
        }
      }
    }
  }
}

void ColConv::BuildColumnTable(const CallShape& shape, int64_t pixel_step, int64_t tap_step,
                               ColScratch& scratch) const {
  const size_t entries = shape.out_w * kw_;
  if (scratch.x_offsets.size() < entries) scratch.x_offsets.resize(entries);
  if (scratch.x_count.size() < size_t(shape.out_w)) scratch.x_count.resize(shape.out_w);
  const int64_t stride = config_.strides[1];
  for (int64_t x = 0; x < shape.out_w; ++x) {
    int64_t count = 0;
    for (const Tap& tap : taps_x_[x % stride]) {
      const int64_t ix = x / stride + tap.offset;
      if (ix < 0 || ix >= shape.in_w) continue;
      scratch.x_offsets[x * kw_ + count++] = ix * pixel_step + tap.index * tap_step;
    }
    scratch.x_count[x] = count;
  }
}

void ColConv::GatherRows(const CallShape& shape, const float* col, const ColScratch& scratch,
                         int64_t begin, int64_t end, float* output) const {
  const int64_t stride = config_.strides[0];
  const float* rows[LayerLimits::kMaxKernelSize];
  for (int64_t i = begin; i < end; ++i) {
    const int64_t example = i / shape.out_h, y = i % shape.out_h;
    int64_t ny = 0;
    for (const Tap& tap : taps_y_[y % stride]) {
      const int64_t iy = y / stride + tap.offset;
      if (iy < 0 || iy >= shape.in_h) continue;
      rows[ny++] =
          col + (example * shape.in_h + iy) * shape.in_w * width_ + tap.index * kw_ * filters_;
    }
    kGatherRows[filters_](rows, ny, scratch.x_offsets.data(), scratch.x_count.data(), kw_,
                          shape.out_w, bias_.data(), output + i * shape.out_w * filters_);
  }
}

void ColConv::GatherRowsTransposed(const CallShape& shape, const float* col, int64_t row_length,
                                   const ColScratch& scratch, int64_t begin, int64_t end,
                                   float* output) const {
  const int64_t stride = config_.strides[0];
  const float* rows[LayerLimits::kMaxKernelSize];
  for (int64_t i = begin; i < end; ++i) {
    const int64_t example = i / (filters_ * shape.out_h), f = i / shape.out_h % filters_;
    const int64_t y = i % shape.out_h;
    int64_t ny = 0;
    for (const Tap& tap : taps_y_[y % stride]) {
      const int64_t iy = y / stride + tap.offset;
      if (iy < 0 || iy >= shape.in_h) continue;
      rows[ny++] = col + (tap.index * kw_ * filters_ + f) * row_length +
                   (example * shape.in_h + iy) * shape.in_w;
    }
    GatherPlaneRow(rows, ny, taps_x_, shape.in_w, filters_ * row_length, scratch.x_offsets.data(),
                   scratch.x_count.data(), kw_, shape.out_w, bias_.data()[f],
                   output + i * shape.out_w);
  }
}

// Whether the col path beats the dot path (fast_tiled.h) for the layer. Measured with
// tconv_bench at 1 thread (Zen 4, AVX-512), dot -> col ms: dcgan_g3 b1 0.026 -> 0.009,
// cvae_d3 b8 0.232 -> 0.104, unet_last b8 8.39 -> 2.96, pix2pix_last 6.09 -> 2.2; on 39 more
// few-filter cases (C 1-512, kernels 1-9, strides 1-3, dilation 2, batches 1 and 8) col won
// 1.2-3.8x with AVX-512. With the AVX2 kernels (TCONV_ISA=avx2, a loaded machine: +-30%) col
// won 1.2-5x on most of them but lost on C = 512 over a 4x4 input (b8: 0.09 ms vs 0.044-0.062),
// where the dot kernels' 8 pixels x 3 filters of FMA chains keep up with AVX2's 6x16 tiles.
bool ColPathPays(const LayerConfig& config, int64_t channels, const KernelSet& kernels) {
  if (config.filters > kMaxDotFilters) return false;
  return channels < 512 || std::string_view(kernels.isa) == "avx512";
}

}  // namespace

std::unique_ptr<const FastConv2DTranspose> MakeColConv(
    const LayerConfig& config, int64_t in_channels, const LayerWeights& weights,
    std::unique_ptr<const FastConv2DTranspose> fallback) {
  if (!ColPathPays(config, in_channels, fallback->kernels())) return fallback;
  return std::make_unique<ColConv>(config, in_channels, weights, std::move(fallback));
}

}  // namespace tconv::internal
