// The fast path's driver: runs a FastPlan (fast_plan.h) over the ComputePool. The only file of
// the fast path that knows about threads (through ParallelFor).
//
// Each phase's pixels are cut into regions whose pixels reach the input through the same taps
// (the interior, and runs of rows/columns along the edges), so a tile never multiplies a zero
// row where a tap misses the input. Work items are (region, panel of output channels, block of
// pixels); a block's pixels are numbered (example, row, column) within the region, so small
// layers fill tiles across rows and examples. Within an item the GEMM runs tap by tap and chunk of
// channels by chunk, each packed weight slice reused by all tiles of the block from L1, with the
// running sums kept in the output. Every output element therefore sees the same sequence of FMAs
// (bias, then taps in plan order, channels ascending) whatever the batch, the block or the thread:
// batch- and thread-invariant bit for bit.
#include "fast_conv.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "fast_block.h"
#include "fast_col.h"
#include "fast_isa.h"
#include "fast_layout.h"
#include "fast_pack.h"
#include "fast_plan.h"
#include "microkernels.h"
#include "parallel.h"

namespace tconv::internal {
namespace {

// Work below this many FLOPs stays on one thread: handing a task to a worker costs a few
// microseconds (a worker lingers between calls, see parallel.h). 4 MFLOP is ~25 us for the GEMM
// tiles (100-170 GFLOP/s); the dot kernels reach only 15-40 GFLOP/s (few filters, one pixel's
// sum at a time), so their tasks are counted smaller: with the GEMM figure cvae_d3 at batch 8
// (3.6 MFLOP, 0.23 ms) stayed on one thread, and with 1 MFLOP cvae_d3 and dcgan_g3 at batch 1
// (0.45-0.63 MFLOP, 25-30 us) did; at 0.25 MFLOP they take 17-23 us on 2 threads.
constexpr double kMinTaskFlops = 4e6;
constexpr double kMinDotTaskFlops = 0.25e6;
// channels_first output is staged per work item (RunChannelsFirst) when each output element
// takes at least this many multiply-adds. Measured cf/cl at 1 thread, transposed -> staged
// (AVX2 8x8 transposes): generic_k2s2 (256 per element) 1.75 -> 1.35 at batch 1 and
// 1.50 -> 1.30 at batch 8; cvae_d1 (72) 1.30 -> 1.58 and 1.47 -> 1.91; cvae_d2 and
// generic_k3s2 (144) even within noise; generic_k3s1 (576) and dcgan_g2 (800) even.
constexpr double kMinStagedMacs = 256;
// Packed weights larger than this are assumed to come from memory on every call (beyond the
// last-level cache one core can count on): one-tile blocks then use the prefetching GEMM
// kernels. pix2pix_up2 at batch 1 (32 MiB) gained 15-25%; pix2pix_up1 at batch 1 (16 MiB, of
// which a call reads 4) was 15% slower with prefetching on 2 threads.
constexpr int64_t kCachedWeightBytes = int64_t{24} << 20;
// channels_first calls of few examples run as bands of output rows, one per thread, when the
// packed weights are at most this large: each thread reads them all, from its own L2.
constexpr int64_t kBandWeightBytes = int64_t{1} << 20;
// ... and the call has at least this many FLOPs (cvae_d1 at batch 1, 1.8 MFLOP: 19 -> 17.5 us
// at 2 threads; channels_last 14 us).
constexpr double kMinBandFlops = 1e6;

// The first row of an output phase (phase, phase + stride, ...) at or after output row y.
int64_t FirstPhaseRow(int64_t y, int64_t stride, int64_t phase) {
  return y <= phase ? 0 : (y - phase + stride - 1) / stride;
}

// Drops the runs bounds[0] = 0 < ... < bounds[count] that end at or before row m0 <
// bounds[count] and starts the first one left at m0; returns how many are left.
int DropRunsBefore(int64_t m0, int count, int64_t bounds[kMaxRuns + 1]) {
  int first = 0;
  while (bounds[first + 1] <= m0) ++first;
  std::copy(bounds + first, bounds + count + 1, bounds);
  bounds[0] = m0;
  return count - first;
}

class FastConv final : public FastConv2DTranspose {
 public:
  FastConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights);
  void Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
           const ComputePool& pool) const override;
  void RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                        float* output, const ComputePool& pool) const override;
  int64_t packed_bytes() const override {
    return (packed_.kernel.size() + packed_.bias.size()) * int64_t{sizeof(float)};
  }

 private:
  int64_t RegionItems(const RunShape& shape, const Region& region) const {
    return (region.Pixels(shape.batch) + plan_.block_pixels - 1) / plan_.block_pixels *
           plan_.n_blocks;
  }
  // Runs every work item of the call over `pool`, or on this thread when it is null.
  void RunShaped(const RunShape& shape, const ComputePool* pool) const;
  // Output rows [y0, y1) of channels_first examples, through NHWC: over `pool`, or on this
  // thread when it is null.
  void ChannelsFirstPass(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                         float* output, int64_t y0, int64_t y1, const ComputePool* pool) const;
  // How many chunks of examples a channels_first call runs as (see RunChannelsFirst), or 0.
  int64_t ExampleChunks(int64_t batch, int64_t in_pixels, int threads) const;
  std::pair<int64_t, int64_t> InputRows(int64_t y0, int64_t y1, int64_t in_h) const;
  // Element (r, c) of example b of a batch of matrices: data[b * example + r * row + c].
  template <typename T>
  struct Strided {
    T* data;
    int64_t example, row;
  };
  // Per example, from's [rows x cols] -> to's [cols x rows].
  void Transpose(int64_t batch, int64_t rows, int64_t cols, Strided<const float> from,
                 Strided<float> to, const ComputePool* pool) const;
  template <typename Visit>
  void ForEachRegion(const RunShape& shape, Visit visit) const;
  void RunItems(const RunShape& shape, int64_t begin, int64_t end) const;
  // `staged`: the block's out rows are staging rows of one panel, not the NHWC output.
  void RunGemm(const PhaseTaps& taps, int64_t panel, bool staged, Block& block) const;
  void RunDot(const PhaseTaps& taps, Block& block) const;

  LayerConfig config_;
  int64_t channels_, filters_;
  FastPlan plan_;
  PackedWeights packed_;
  AlignedFloats zeros_;  // the input row that taps outside the input read
  bool stage_output_;    // channels_first output staged per item, not transposed (kMinStagedMacs)
  bool stream_weights_;  // one-tile blocks prefetch the weights (kCachedWeightBytes)
};

FastConv::FastConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights)
    : config_(config),
      channels_(channels),
      filters_(config.filters),
      plan_(MakePlan(config, channels, SelectKernels())),
      zeros_(channels),
      // pixel_flops counts 2 FLOPs per multiply-add for each of `width` output channels.
      stage_output_(plan_.pixel_flops / (2.0 * double(plan_.dot ? filters_ : plan_.gemm.nr)) >=
                    kMinStagedMacs) {
  const int64_t taps = config.kernel_size[0] * config.kernel_size[1];
  packed_ = plan_.dot ? PackForDot(weights, taps, filters_, channels_)
                      : PackForGemm(weights, taps, filters_, channels_, plan_.gemm.nr);
  stream_weights_ =
      !plan_.dot && plan_.gemm.stream != nullptr && packed_bytes() > kCachedWeightBytes;
}

void FastConv::Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
                   const ComputePool& pool) const {
  RunShaped(RunShape::Whole(input, output, batch, in_h, in_w, config_.OutputLength(in_h, 0),
                            config_.OutputLength(in_w, 1)),
            &pool);
}

// ParallelFor over `pool`, or the whole range on this thread when there is none (the caller
// is itself one task of a parallel call).
void ForRange(const ComputePool* pool, int64_t n, int64_t grain,
              absl::FunctionRef<void(int64_t, int64_t)> body) {
  if (pool != nullptr) {
    ParallelFor(*pool, n, grain, body);
  } else if (n > 0) {
    body(0, n);
  }
}

void FastConv::RunShaped(const RunShape& shape, const ComputePool* pool) const {
  int64_t items = 0;
  ForEachRegion(shape, [&](const Region& region) {
    items += RegionItems(shape, region);
    return true;
  });
  const double item_flops = plan_.pixel_flops * double(plan_.block_pixels);
  const double min_flops = plan_.dot ? kMinDotTaskFlops : kMinTaskFlops;
  const auto grain = static_cast<int64_t>(std::max(1.0, min_flops / item_flops));
  ForRange(pool, items, grain, [&](int64_t begin, int64_t end) { RunItems(shape, begin, end); });
}

// Scratch of the channels_first entry, per thread, kept between calls up to kMaxKeptFloats.
class LayoutScratch {
 public:
  // A buffer of n floats: the kept one, or `once` when n is beyond what is worth keeping.
  float* Get(int64_t n, std::unique_ptr<float[]>& once) {
    if (n <= size_) return data_.get();
    if (n > kMaxKeptFloats) {
      once.reset(new float[n]);
      return once.get();
    }
    data_.reset(new float[n]);
    size_ = n;
    return data_.get();
  }

 private:
  static constexpr int64_t kMaxKeptFloats = int64_t{16} << 20;  // 64 MiB per thread
  std::unique_ptr<float[]> data_;
  int64_t size_ = 0;
};

// Two ways to keep each thread's NHWC scratch in its own core's caches: at 2 threads,
// transposing on the calling thread what the other core had just computed cost as much as the
// GEMM (cvae_d2 at batch 8: channels_first/last 1.4-1.6; at batch 1 1.5-2.1).
// - A call of enough examples runs as chunks of whole examples, each transposed in, computed
//   and transposed out by one thread.
// - Else, for layers with weights small enough to stay in each core's cache, a call runs as
//   bands of output rows, one per thread, each from the input rows its band reads.
// The rest (layers with large weights and few examples, e.g. pix2pix at batch 1, whose work is
// mostly reading the weights once) take one pass, each step parallel.
void FastConv::RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                                float* output, const ComputePool& pool) const {
  const int64_t out_h = config_.OutputLength(in_h, 0), out_w = config_.OutputLength(in_w, 1);
  const int64_t in_example = channels_ * in_h * in_w, out_example = filters_ * out_h * out_w;
  const double call_flops = plan_.pixel_flops * double(plan_.n_blocks * out_h * out_w * batch);
  const int threads = pool.threads();
  if (const int64_t chunks = ExampleChunks(batch, in_h * in_w, threads); chunks > 0) {
    const auto grain = static_cast<int64_t>(std::max(1.0, kMinTaskFlops * chunks / call_flops));
    return ParallelFor(pool, chunks, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t first = i * batch / chunks, last = (i + 1) * batch / chunks;
        ChannelsFirstPass(input + first * in_example, last - first, in_h, in_w,
                          output + first * out_example, 0, out_h, nullptr);
      }
    });
  }
  if (threads > 1 && call_flops >= kMinBandFlops && packed_bytes() <= kBandWeightBytes &&
      out_h >= 2 * threads) {
    return ParallelFor(pool, threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        ChannelsFirstPass(input, batch, in_h, in_w, output, i * out_h / threads,
                          (i + 1) * out_h / threads, nullptr);
      }
    });
  }
  ChannelsFirstPass(input, batch, in_h, in_w, output, 0, out_h, &pool);
}

// A chunk holds enough examples for each phase to fill one work item's block of pixels (in a
// layer of stride s and `same` padding a phase has as many pixels as the input), so the weights
// are read about as often as in one pass over the batch; the chunks are a multiple of the
// threads, so that each thread gets as many.
int64_t FastConv::ExampleChunks(int64_t batch, int64_t in_pixels, int threads) const {
  const int64_t examples = std::max<int64_t>(1, (plan_.block_pixels + in_pixels - 1) / in_pixels);
  const int64_t chunks = batch / examples;
  return chunks - chunks % threads;
}

// Output rows [y0, y1) of every example, in three steps: the input rows they read are
// transposed to NHWC (the indirection lists need each pixel's channels contiguous), the GEMM
// runs, and its output either goes through an NHWC buffer and a transpose, or each work item
// stages its results in L1 and scatters them to NCHW (ScatterToChannelsFirst): that saves a
// pass over the output through memory but costs a scalar store per element, which only pays
// when each output element takes many multiply-adds (see kMinStagedMacs).
void FastConv::ChannelsFirstPass(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                                 float* output, int64_t y0, int64_t y1,
                                 const ComputePool* pool) const {
  const int64_t out_h = config_.OutputLength(in_h, 0), out_w = config_.OutputLength(in_w, 1);
  auto [in_y0, in_y1] = InputRows(y0, y1, in_h);
  const int64_t in_pixels = (in_y1 - in_y0) * in_w, out_pixels = (y1 - y0) * out_w;
  const int64_t in_size = batch * channels_ * in_pixels;
  const int64_t out_size = stage_output_ ? 0 : batch * out_pixels * filters_;
  thread_local LayoutScratch scratch;
  std::unique_ptr<float[]> once;
  float* nhwc = scratch.Get(in_size + out_size, once);
  Transpose(batch, channels_, in_pixels,
            {input + in_y0 * in_w, channels_ * in_h * in_w, in_h * in_w},
            {nhwc, channels_ * in_pixels, channels_}, pool);
  RunShape shape = RunShape::Whole(nhwc, stage_output_ ? output : nhwc + in_size, batch, in_h, in_w,
                                   out_h, out_w);
  shape.in_y0 = in_y0, shape.in_rows = in_y1 - in_y0, shape.out_y0 = y0, shape.out_y1 = y1;
  shape.channels_first_output = stage_output_;
  RunShaped(shape, pool);
  if (stage_output_) return;
  Transpose(batch, out_pixels, filters_, {nhwc + in_size, out_pixels * filters_, filters_},
            {output + y0 * out_w, filters_ * out_h * out_w, out_h * out_w}, pool);
}

// The input rows that output rows [y0, y1) read through some tap, within [0, in_h).
std::pair<int64_t, int64_t> FastConv::InputRows(int64_t y0, int64_t y1, int64_t in_h) const {
  int64_t first = in_h, last = 0;
  for (int64_t phase_y = 0; phase_y < plan_.stride_y; ++phase_y) {
    const int64_t m0 = FirstPhaseRow(y0, plan_.stride_y, phase_y);
    const int64_t m1 = FirstPhaseRow(y1, plan_.stride_y, phase_y);
    if (m0 >= m1) continue;
    for (int64_t offset : plan_.offsets_y[phase_y]) {
      first = std::min(first, std::max<int64_t>(0, m0 + offset));
      last = std::max(last, std::min(in_h, m1 + offset));
    }
  }
  return first < last ? std::pair(first, last) : std::pair<int64_t, int64_t>(0, 0);
}

void FastConv::Transpose(int64_t batch, int64_t rows, int64_t cols, Strided<const float> from,
                         Strided<float> to, const ComputePool* pool) const {
  const int64_t blocks = (rows + kTransposeBlock - 1) / kTransposeBlock;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (kTransposeBlock * cols));
  ForRange(pool, batch * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / blocks, r0 = i % blocks * kTransposeBlock;
      TransposeBlock(plan_.kernels->transpose8, from.data + b * from.example + r0 * from.row,
                     from.row, std::min(kTransposeBlock, rows - r0), cols,
                     to.data + b * to.example + r0, to.row);
    }
  });
}

// Calls visit(region) for the regions of every phase, in a fixed order, while it returns true.
template <typename Visit>
void FastConv::ForEachRegion(const RunShape& shape, Visit visit) const {
  int64_t rows[kMaxRuns + 1], cols[kMaxRuns + 1];
  for (int64_t phase = 0; phase < int64_t(plan_.phases.size()); ++phase) {
    const int64_t phase_y = phase / plan_.stride_x, phase_x = phase % plan_.stride_x;
    // The phase's rows whose output rows are in [out_y0, out_y1).
    const int64_t m1 = std::min(PhaseLength(shape.out_h, plan_.stride_y, phase_y),
                                FirstPhaseRow(shape.out_y1, plan_.stride_y, phase_y));
    const int64_t m0 = FirstPhaseRow(shape.out_y0, plan_.stride_y, phase_y);
    const int64_t len_x = PhaseLength(shape.out_w, plan_.stride_x, phase_x);
    if (m1 <= m0 || len_x == 0) continue;
    const int64_t len_y = m1 - m0;
    int ny = DropRunsBefore(m0, SplitRuns(plan_.offsets_y[phase_y], shape.in_h, m1, rows), rows);
    int nx = SplitRuns(plan_.offsets_x[phase_x], shape.in_w, len_x, cols);
    // Splitting pays while regions still fill two whole tiles (measured on dcgan_g1); below
    // that, partial tiles cost more than the multiplications by zero rows they save, and each
    // region reads its taps' weight panels again (pix2pix_up3 at batch 1). Rows split first.
    int64_t min_y = len_y, min_x = len_x;
    for (int i = 0; i < ny; ++i) min_y = std::min(min_y, rows[i + 1] - rows[i]);
    for (int j = 0; j < nx; ++j) min_x = std::min(min_x, cols[j + 1] - cols[j]);
    const int64_t tiles = 2 * plan_.tile, batch = shape.batch;
    if (batch * min_y * min_x < tiles) {
      if (batch * min_y * len_x >= tiles) {
        nx = 1, cols[1] = len_x;
      } else if (batch * len_y * min_x >= tiles) {
        ny = 1, rows[1] = m1;
      } else {
        nx = ny = 1, rows[1] = m1, cols[1] = len_x;
      }
    }
    for (int i = 0; i < ny; ++i) {
      for (int j = 0; j < nx; ++j) {
        if (!visit(Region{phase, rows[i], rows[i + 1], cols[j], cols[j + 1]})) return;
      }
    }
  }
}

// Items run region after region; within a region, panel after panel, block after block: a
// thread's share of the items then reads fewer weight panels (2 threads: dcgan_g1 at batch 1
// 13% faster, unet_up1 7%; 1 thread even).
void FastConv::RunItems(const RunShape& shape, int64_t begin, int64_t end) const {
  thread_local Block block;
  block.phase = -1;  // the lists of an earlier call point into other buffers
  int64_t region_begin = 0;
  ForEachRegion(shape, [&](const Region& region) {
    const int64_t items = RegionItems(shape, region), blocks = items / plan_.n_blocks;
    for (int64_t item = std::max(begin, region_begin); item < std::min(end, region_begin + items);
         ++item) {
      const int64_t first = (item - region_begin) % blocks * plan_.block_pixels;
      if (block.phase != region.phase || block.y0 != region.y0 || block.x0 != region.x0 ||
          block.first != first) {
        BuildBlock(plan_, zeros_.data(), channels_, filters_, shape, region, first, block);
      }
      const PhaseTaps& taps = plan_.phases[region.phase];
      const int64_t panel = (item - region_begin) / blocks;
      const bool staged = shape.channels_first_output;
      if (plan_.dot) {
        RunDot(taps, block);
      } else {
        RunGemm(taps, panel, staged, block);
      }
      if (staged) {
        const int64_t f0 = plan_.dot ? 0 : panel * plan_.gemm.nr;
        const int64_t count =
            plan_.dot ? filters_ : std::min<int64_t>(plan_.gemm.nr, filters_ - f0);
        ScatterToChannelsFirst(block, plan_.tile, f0, count, shape.out_h * shape.out_w,
                               shape.output);
      }
    }
    region_begin += items;
    return region_begin < end;
  });
}

void FastConv::RunGemm(const PhaseTaps& taps, int64_t panel, bool staged, Block& block) const {
  const int64_t tile = plan_.tile, nr = plan_.gemm.nr, max_taps = plan_.max_taps;
  const int64_t n_valid = std::min(nr, filters_ - panel * nr);
  const float* bias = packed_.bias.data() + panel * nr;
  std::fill(block.started.begin(), block.started.begin() + block.tiles, 0);
  float* out[kMaxTile];
  auto tile_out = [&](int64_t i) {
    const int64_t offset = staged ? 0 : panel * nr;
    for (int64_t r = 0; r < block.rows[i]; ++r) out[r] = block.out[i * tile + r] + offset;
    return out;
  };
  // A block of one tile reads each weight panel once; when the weights are also too large to
  // stay in the last-level cache between calls, they come from memory: prefetch them.
  const GemmFn gemm = block.tiles == 1 && stream_weights_ ? plan_.gemm.stream : plan_.gemm.fn;
  for (int64_t t = 0; t < taps.size(); ++t) {
    const float* weights =
        packed_.kernel.data() + (taps.kernel_index[t] * plan_.n_blocks + panel) * channels_ * nr;
    for (int64_t c0 = 0; c0 < channels_; c0 += plan_.chunk) {
      const int64_t kc = std::min(plan_.chunk, channels_ - c0);
      for (int64_t i = 0; i < block.tiles; ++i) {
        if (!block.keep[i * max_taps + t]) continue;
        gemm(block.rows[i], kc, &block.a[(i * max_taps + t) * tile], c0, weights + c0 * nr,
             block.started[i] ? nullptr : bias, tile_out(i), n_valid);
        block.started[i] = 1;
      }
    }
  }
  for (int64_t i = 0; i < block.tiles; ++i) {  // pixels no tap reaches hold the bias
    if (!block.started[i]) {
      plan_.gemm.fn(block.rows[i], 0, &block.a[i * max_taps * tile], 0, packed_.kernel.data(), bias,
                    tile_out(i), n_valid);
    }
  }
}

void FastConv::RunDot(const PhaseTaps& taps, Block& block) const {
  const int64_t tile = plan_.tile, max_taps = plan_.max_taps;
  for (int64_t i = 0; i < block.tiles; ++i) {
    const int64_t rows = block.rows[i];
    int64_t kept = 0;
    for (int64_t t = 0; t < taps.size(); ++t) {
      if (!block.keep[i * max_taps + t]) continue;
      const float* const* a = &block.a[(i * max_taps + t) * tile];
      std::copy(a, a + rows, &block.dot_a[kept * rows]);
      block.dot_w[kept++] = packed_.kernel.data() + taps.kernel_index[t] * filters_ * channels_;
    }
    plan_.kernels->dot(rows, filters_, channels_, kept, block.dot_a.data(), block.dot_w.data(),
                       packed_.bias.data(), &block.out[i * tile]);
  }
}

}  // namespace

std::unique_ptr<const FastConv2DTranspose> FastConv2DTranspose::Create(
    const LayerConfig& config, int64_t in_channels, const LayerWeights& weights) {
  // Layers with few filters take the col path (fast_col.cc) where it measured faster.
  return MakeColConv(config, in_channels, weights,
                     std::make_unique<FastConv>(config, in_channels, weights));
}

}  // namespace tconv::internal
