// The tiled path's channels_first entry (fast_tiled.h): NCHW in and out around the
// channels_last machinery, each thread transposing only what it computes.
#include <algorithm>
#include <memory>
#include <utility>

#include "fast_layout.h"
#include "fast_plan.h"
#include "fast_tiled.h"
#include "microkernels.h"
#include "parallel.h"

namespace tconv::internal {
namespace {

// channels_first calls of few examples run as bands of output rows, one per thread, when the
// packed weights are at most kBandWeightBytes (fast_tiled.h) and the call has at least this many
// FLOPs (cvae_d1 at batch 1, 1.8 MFLOP: 19 -> 17.5 us at 2 threads; channels_last 14 us).
constexpr double kMinBandFlops = 1e6;

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

}  // namespace

// Ways to keep each thread's NHWC scratch in its own core's caches: at 2 threads, transposing
// on the calling thread what the other core had just computed cost as much as the GEMM
// (cvae_d2 at batch 8: channels_first/last 1.4-1.6; at batch 1 1.5-2.1).
// - A call of enough examples runs as chunks of whole examples, each transposed in, computed
//   and transposed out by one thread, when a chunk fits the L2 the channels_last bands are cut
//   to (TiledConv::Bands).
// - Else a call larger than the L2 runs as the channels_last call's bands (whole examples or
//   output rows of one), each transposed in and out just before and after it is computed. One
//   pass transposed the whole call's input and output through memory around it (generic_k2s2
//   at batch 8, 12.5 MiB in and out: channels_first/last 1.26 -> 1.15 at 1 thread).
// - Else, for layers with weights small enough to stay in each core's cache, a call runs as
//   bands of output rows, one per thread, each from the input rows its band reads.
// The rest (layers with large weights and few examples, e.g. pix2pix at batch 1, whose work is
// mostly reading the weights once) take one pass, each step parallel.
void TiledConv::RunChannelsFirst(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
                                 float* output, const ComputePool& pool) const {
  const int64_t out_h = config_.OutputLength(in_h, 0), out_w = config_.OutputLength(in_w, 1);
  const int64_t in_example = channels_ * in_h * in_w, out_example = filters_ * out_h * out_w;
  const double call_flops = plan_.pixel_flops * double(plan_.n_blocks * out_h * out_w * batch);
  const int threads = pool.threads();
  const Bands bands =
      CacheBands(RunShape::Whole(input, output, batch, in_h, in_w, out_h, out_w), threads);
  const int64_t chunks = ExampleChunks(batch, in_h * in_w, threads);
  if (chunks > 0 && (bands.count <= 1 || bands.examples * chunks >= batch)) {
    const auto grain = static_cast<int64_t>(std::max(1.0, kMinTaskFlops * chunks / call_flops));
    return ParallelFor(pool, chunks, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t first = i * batch / chunks, last = (i + 1) * batch / chunks;
        ChannelsFirstPass(input + first * in_example, last - first, in_h, in_w,
                          output + first * out_example, 0, out_h, nullptr);
      }
    });
  }
  if (bands.count > 1) {
    const auto run_band = [&](int64_t i, const ComputePool* on) {
      if (bands.examples > 0) {
        const int64_t first = i * bands.examples;
        return ChannelsFirstPass(input + first * in_example,
                                 std::min(bands.examples, batch - first), in_h, in_w,
                                 output + first * out_example, 0, out_h, on);
      }
      const int64_t example = i / bands.per_example, y0 = i % bands.per_example * bands.rows;
      ChannelsFirstPass(input + example * in_example, 1, in_h, in_w, output + example * out_example,
                        y0, std::min(out_h, y0 + bands.rows), on);
    };
    if (!bands.parallel) {
      for (int64_t i = 0; i < bands.count; ++i) run_band(i, &pool);
      return;
    }
    return ParallelFor(pool, bands.count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) run_band(i, nullptr);
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
int64_t TiledConv::ExampleChunks(int64_t batch, int64_t in_pixels, int threads) const {
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
void TiledConv::ChannelsFirstPass(const float* input, int64_t batch, int64_t in_h, int64_t in_w,
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
std::pair<int64_t, int64_t> TiledConv::InputRows(int64_t y0, int64_t y1, int64_t in_h) const {
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

void TiledConv::Transpose(int64_t batch, int64_t rows, int64_t cols, Strided<const float> from,
                          Strided<float> to, const ComputePool* pool) const {
  // A band whose output rows read no input row (a stride longer than the kernel) has no
  // input pixels to move.
  if (rows == 0 || cols == 0) return;
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

}  // namespace tconv::internal
