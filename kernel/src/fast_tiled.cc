// The tiled path's channels_last driver (fast_tiled.h): work items over the pool.
#include "fast_tiled.h"

#include <algorithm>

#include "absl/functional/function_ref.h"
#include "fast_block.h"
#include "fast_isa.h"
#include "fast_pack.h"
#include "fast_plan.h"
#include "microkernels.h"
#include "parallel.h"

namespace tconv::internal {
namespace {

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

// Drops the runs bounds[0] = 0 < ... < bounds[count] that end at or before row m0 <
// bounds[count] and starts the first one left at m0; returns how many are left.
int DropRunsBefore(int64_t m0, int count, int64_t bounds[kMaxRuns + 1]) {
  int first = 0;
  while (bounds[first + 1] <= m0) ++first;
  std::copy(bounds + first, bounds + count + 1, bounds);
  bounds[0] = m0;
  return count - first;
}

// Gathers tile i's kept taps for the kernels that take all of a tile's taps in one call: their
// input-row pointers into block.dot_a (rows each) and `weights(kernel_index)` into block.dot_w.
// Returns how many taps were kept.
template <typename WeightsOf>
int64_t GatherKeptTaps(const PhaseTaps& taps, int64_t tile, int64_t max_taps, int64_t i,
                       WeightsOf weights, Block& block) {
  const int64_t rows = block.rows[i];
  int64_t kept = 0;
  for (int64_t t = 0; t < taps.size(); ++t) {
    if (!block.keep[i * max_taps + t]) continue;
    const float* const* a = &block.a[(i * max_taps + t) * tile];
    std::copy(a, a + rows, &block.dot_a[kept * rows]);
    block.dot_w[kept++] = weights(taps.kernel_index[t]);
  }
  return kept;
}

}  // namespace

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

TiledConv::TiledConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights,
                     const KernelSet& kernels)
    : FastConv2DTranspose(kernels),
      config_(config),
      channels_(channels),
      filters_(config.filters),
      plan_(MakePlan(config, channels, kernels)),
      zeros_(channels),
      // pixel_flops counts 2 FLOPs per multiply-add for each of `width` output channels.
      stage_output_(plan_.pixel_flops / (2.0 * double(plan_.dot ? filters_ : plan_.gemm.nr)) >=
                    kMinStagedMacs) {
  const int64_t taps = config.kernel_size[0] * config.kernel_size[1];
  packed_ = plan_.dot ? PackForDot(weights, taps, filters_, channels_)
                      : PackForGemm(weights, taps, filters_, channels_, plan_.gemm.nr);
  stream_weights_ =
      !plan_.dot && plan_.gemm.stream != nullptr && packed_bytes() > kCachedWeightBytes;
  fused_relu_ =
      plan_.fuse_taps && config.activation == Activation::kRelu && plan_.gemm.taps_relu != nullptr;
}

void TiledConv::Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
                    const ComputePool& pool) const {
  const RunShape whole =
      RunShape::Whole(input, output, batch, in_h, in_w, config_.OutputLength(in_h, 0),
                      config_.OutputLength(in_w, 1));
  const Bands bands = CacheBands(whole, pool.threads());
  if (bands.count <= 1) return RunShaped(whole, &pool);
  if (!bands.parallel) {
    for (int64_t i = 0; i < bands.count; ++i) RunShaped(BandShape(whole, bands, i), &pool);
    return;
  }
  ParallelFor(pool, bands.count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) RunShaped(BandShape(whole, bands, i), nullptr);
  });
}

TiledConv::Bands TiledConv::CacheBands(const RunShape& whole, int threads) const {
  Bands bands;
  const int64_t budget = L2CacheBytes();
  const int64_t example_bytes =
      (whole.in_h * whole.in_w * channels_ + whole.out_h * whole.out_w * filters_) *
      int64_t{sizeof(float)};
  if (packed_bytes() > kBandWeightBytes || example_bytes * whole.batch <= budget) return bands;
  if (example_bytes <= budget) {
    bands.examples = budget / example_bytes;
    bands.count = (whole.batch + bands.examples - 1) / bands.examples;
  } else {  // whole phase rows per band, so that no band starts within a row of the phases
    const int64_t rows = std::max<int64_t>(1, whole.out_h * budget / example_bytes);
    bands.rows =
        std::min(whole.out_h, (rows + plan_.stride_y - 1) / plan_.stride_y * plan_.stride_y);
    bands.per_example = (whole.out_h + bands.rows - 1) / bands.rows;
    bands.count = whole.batch * bands.per_example;
  }
  // With fewer bands than kMinBandsPerThread each, the threads share each band instead.
  constexpr int64_t kMinBandsPerThread = 4;
  bands.parallel = threads > 1 && bands.count >= kMinBandsPerThread * threads;
  return bands;
}

// Band i as a RunShape: for a band of rows, the input rows it reads and its output rows, as the
// channels_first entry cuts them (fast_tiled_channels_first.cc).
RunShape TiledConv::BandShape(const RunShape& whole, const Bands& bands, int64_t i) const {
  const int64_t in_example = whole.in_h * whole.in_w * channels_;
  const int64_t out_example = whole.out_h * whole.out_w * filters_;
  if (bands.examples > 0) {
    const int64_t first = i * bands.examples;
    return RunShape::Whole(whole.input + first * in_example, whole.output + first * out_example,
                           std::min(bands.examples, whole.batch - first), whole.in_h, whole.in_w,
                           whole.out_h, whole.out_w);
  }
  const int64_t example = i / bands.per_example, y0 = i % bands.per_example * bands.rows;
  const int64_t y1 = std::min(whole.out_h, y0 + bands.rows);
  const auto [in_y0, in_y1] = InputRows(y0, y1, whole.in_h);
  RunShape shape =
      RunShape::Whole(whole.input + example * in_example + in_y0 * whole.in_w * channels_,
                      whole.output + example * out_example + y0 * whole.out_w * filters_, 1,
                      whole.in_h, whole.in_w, whole.out_h, whole.out_w);
  shape.in_y0 = in_y0, shape.in_rows = in_y1 - in_y0, shape.out_y0 = y0, shape.out_y1 = y1;
  return shape;
}

void TiledConv::RunShaped(const RunShape& shape, const ComputePool* pool) const {
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

// Calls visit(region) for the regions of every phase, in a fixed order, while it returns true.
template <typename Visit>
void TiledConv::ForEachRegion(const RunShape& shape, Visit visit) const {
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
void TiledConv::RunItems(const RunShape& shape, int64_t begin, int64_t end) const {
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

void TiledConv::RunGemm(const PhaseTaps& taps, int64_t panel, bool staged, Block& block) const {
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
  if (plan_.fuse_taps) {
    const float* panels =
        packed_.kernel.data() + panel * channels_ * nr;  // tap k's at k * n_blocks * C * nr
    auto weights = [&](int64_t k) { return panels + k * plan_.n_blocks * channels_ * nr; };
    const GemmTapsFn gemm_taps = fused_relu_ ? plan_.gemm.taps_relu : plan_.gemm.taps;
    for (int64_t i = 0; i < block.tiles; ++i) {
      const int64_t kept = GatherKeptTaps(taps, tile, max_taps, i, weights, block);
      gemm_taps(block.rows[i], kept, channels_, block.dot_a.data(), block.dot_w.data(), bias,
                tile_out(i), n_valid);
    }
    return;
  }
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

void TiledConv::RunDot(const PhaseTaps& taps, Block& block) const {
  const int64_t tile = plan_.tile, max_taps = plan_.max_taps;
  auto weights = [&](int64_t k) { return packed_.kernel.data() + k * filters_ * channels_; };
  for (int64_t i = 0; i < block.tiles; ++i) {
    const int64_t kept = GatherKeptTaps(taps, tile, max_taps, i, weights, block);
    plan_.kernels->dot(block.rows[i], filters_, channels_, kept, block.dot_a.data(),
                       block.dot_w.data(), packed_.bias.data(), &block.out[i * tile]);
  }
}

}  // namespace tconv::internal
