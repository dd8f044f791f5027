// The tiled fast path: the layer as one indirect GEMM per output phase, cut into work items
// of (region, panel of output channels, block of pixels) and run over the ComputePool.
//
// Each phase's pixels are cut into regions whose pixels reach the input through the same taps
// (the interior, and runs of rows/columns along the edges), so a tile never multiplies a zero
// row where a tap misses the input. A block's pixels are numbered (example, row, column) within
// the region, so small layers fill tiles across rows and examples. Within an item the GEMM runs
// tap by tap and chunk of channels by chunk, each packed weight slice reused by all tiles of the
// block from L1, with the running sums kept in the output. Small layers (a phase's panels of
// one block of output channels within kFusedTapBytes) instead run each tile's taps in one
// GemmTapsFn call, the sums in registers, and may apply a ReLU as they store them. Every
// output element sees the same sequence of FMAs either way (bias, then taps in plan order,
// channels ascending) whatever the batch, the block or the thread: batch- and thread-invariant
// bit for bit.
//
// fast_tiled.cc holds the channels_last driver, fast_tiled_channels_first.cc the channels_first
// entry around it. Internal to the kernel library.
#ifndef TCONV_KERNEL_SRC_FAST_TILED_H_
#define TCONV_KERNEL_SRC_FAST_TILED_H_

#include <cstdint>
#include <utility>

#include "absl/functional/function_ref.h"
#include "fast_block.h"
#include "fast_conv.h"
#include "fast_pack.h"
#include "fast_plan.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

// Work below this many FLOPs stays on one thread: handing a task to a worker costs a few
// microseconds (a worker lingers between calls, see parallel.h). 4 MFLOP is ~25 us for the GEMM
// tiles (100-170 GFLOP/s); the dot kernels reach only 15-40 GFLOP/s (few filters, one pixel's
// sum at a time), so their tasks are counted smaller: with the GEMM figure cvae_d3 at batch 8
// (3.6 MFLOP, 0.23 ms) stayed on one thread, and with 1 MFLOP cvae_d3 and dcgan_g3 at batch 1
// (0.45-0.63 MFLOP, 25-30 us) did; at 0.25 MFLOP they take 17-23 us on 2 threads.
inline constexpr double kMinTaskFlops = 4e6;
inline constexpr double kMinDotTaskFlops = 0.25e6;
// Layers whose packed weights are at most this large may run as bands, each thread's bands
// reading all the weights from its own L2 (see TiledConv::Bands).
inline constexpr int64_t kBandWeightBytes = int64_t{1} << 20;

// ParallelFor over `pool`, or the whole range on this thread when there is none (the caller
// is itself one task of a parallel call).
void ForRange(const ComputePool* pool, int64_t n, int64_t grain,
              absl::FunctionRef<void(int64_t, int64_t)> body);

class TiledConv final : public FastConv2DTranspose {
 public:
  TiledConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights,
            const KernelSet& kernels);
  void Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
           const ComputePool& pool) const override;
  void RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                        float* output, const ComputePool& pool) const override;
  bool AppliesActivation() const override { return fused_relu_; }
  int64_t packed_bytes() const override {
    return (packed_.kernel.size() + packed_.bias.size()) * int64_t{sizeof(float)};
  }

 private:
  // The channels_last driver (fast_tiled.cc).
  int64_t RegionItems(const RunShape& shape, const Region& region) const {
    return (region.Pixels(shape.batch) + plan_.block_pixels - 1) / plan_.block_pixels *
           plan_.n_blocks;
  }
  // A channels_last call whose input and output exceed the L2 (fast_isa.h) runs as bands that
  // fit it: groups of whole examples, or of output rows of one example when one is too large.
  // One pass over the whole call would read each input row once per phase, panel and tap's
  // region with everything between evicting it (generic_k2s2 at batch 8: 12.5 MiB in and out).
  // Measured at 1 thread (AVX2, Zen 3, 512 KiB L2), time relative to XNNPACK's in the same run,
  // one pass -> bands: cvae_d1 and cvae_d2 at batch 32 0.45 -> 0.34 and 0.61 -> 0.49,
  // unet_up4 at batch 8 0.55 -> 0.42, generic_k2s2 / generic_k3s2 at batch 8 0.60 -> 0.46 /
  // 0.62 -> 0.56; the rest within noise. A call of enough bands gives each thread whole bands.
  struct Bands {
    int64_t count = 0;
    int64_t examples = 0;               // > 0: bands of this many whole examples
    int64_t rows = 0, per_example = 0;  // else: bands of `rows` output rows of one example
    bool parallel = false;              // the bands run one per thread, each on its own
  };
  Bands CacheBands(const RunShape& whole, int threads) const;
  RunShape BandShape(const RunShape& whole, const Bands& bands, int64_t i) const;
  // Runs every work item of the call over `pool`, or on this thread when it is null.
  void RunShaped(const RunShape& shape, const ComputePool* pool) const;
  template <typename Visit>
  void ForEachRegion(const RunShape& shape, Visit visit) const;
  void RunItems(const RunShape& shape, int64_t begin, int64_t end) const;
  // `staged`: the block's out rows are staging rows of one panel, not the NHWC output.
  void RunGemm(const PhaseTaps& taps, int64_t panel, bool staged, Block& block) const;
  void RunDot(const PhaseTaps& taps, Block& block) const;

  // The channels_first entry (fast_tiled_channels_first.cc).
  // Output rows [y0, y1) of channels_first examples, through NHWC: over `pool`, or on this
  // thread when it is null.
  void ChannelsFirstPass(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                         float* output, int64_t y0, int64_t y1, const ComputePool* pool) const;
  // How many chunks of examples a channels_first call runs as (see RunChannelsFirst), or 0.
  int64_t ExampleChunks(int64_t batch, int64_t in_pixels, int threads) const;
  // The input rows [first, last) that output rows [y0, y1) read.
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

  LayerConfig config_;
  int64_t channels_, filters_;
  FastPlan plan_;
  PackedWeights packed_;
  AlignedFloats zeros_;  // the input row that taps outside the input read
  bool stage_output_;    // channels_first output staged per item, not transposed (kMinStagedMacs)
  bool stream_weights_;  // one-tile blocks prefetch the weights (kCachedWeightBytes)
  // ReLU in gemm.taps_relu's stores: the separate pass over the output cost cvae_d1 8-10% of
  // a call (1.7 us of 22 at batch 1, 75 of 740 at batch 32, where the output leaves L2).
  bool fused_relu_;
};

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_TILED_H_
