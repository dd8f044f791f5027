// The fast path's driver: plans a layer once (output phases, their taps, kernels, packing,
// block sizes) and runs it over the ComputePool. The only file of the fast path that knows
// about threads (through ParallelFor).
//
// A transposed convolution with stride s is s_h * s_w independent sub-convolutions, one per
// output phase (y mod s_h, x mod s_w): output pixel (m_y * s_h + phase_y, m_x * s_w + phase_x)
// gathers input pixel (m_y + offset_p, m_x + offset_q) through each tap (p, q) that lands on
// that phase. So no multiply-add lands on a cropped or zero position, and every phase is a
// small GEMM (pixels x taps*C times taps*C x F) that the microkernels tile.
#include "fast_conv.h"

#include <algorithm>
#include <vector>

#include "fast_isa.h"
#include "fast_pack.h"
#include "microkernels.h"
#include "parallel.h"

namespace tconv::internal {
namespace {

constexpr int kMaxTile = 16;  // >= every kernel set's mr and dot_mr
// Work below this many FLOPs stays on one thread: a task costs a few microseconds to hand
// over, which is what ~1-4 MFLOP take at this machine's speed.
constexpr double kMinTaskFlops = 4e6;

// One kernel position along an axis that lands on a given output phase, and the input offset
// it reads: output m * s + phase reads input m + offset.
struct Tap {
  int64_t index;
  int64_t offset;
};

struct AxisPlan {
  int64_t stride = 1;
  std::vector<std::vector<Tap>> phases;  // [stride]
};

AxisPlan PlanAxis(const LayerConfig& config, int axis) {
  const int64_t k = config.kernel_size[axis], s = config.strides[axis];
  const int64_t d = config.dilation_rate[axis];
  // The crop at the top/left (spec §3.2) does not depend on the input length, so n = 1 gives it.
  const int64_t full = (k - 1) * d + 1;
  const int64_t crop = config.padding == Padding::kSame
                           ? std::max<int64_t>(0, full - config.OutputLength(1, axis)) / 2
                           : 0;
  AxisPlan plan;
  plan.stride = s;
  plan.phases.resize(s);
  for (int64_t phase = 0; phase < s; ++phase) {
    for (int64_t p = 0; p < k; ++p) {
      const int64_t num = phase + crop - p * d;  // (y + crop - p*d) / s = m + num / s
      if (num % s == 0) plan.phases[phase].push_back({p, num / s});
    }
  }
  return plan;
}

// Output rows (or columns) of `phase` in an output of length `out`.
int64_t PhaseLength(int64_t out, int64_t stride, int64_t phase) {
  return phase < out ? (out - phase + stride - 1) / stride : 0;
}

struct RunShape {
  const float* input;
  float* output;
  int64_t batch, in_h, in_w, out_h, out_w;
};

// Per-thread indirection lists, grown once and reused (no allocation per call when warm).
struct Scratch {
  std::vector<const float*> a;     // [tile][tap][row]
  std::vector<int64_t> taps;       // [tile][tap]: p * kw + q of each tap kept
  std::vector<int64_t> num_taps;   // [tile]
  std::vector<int64_t> rows;       // [tile]
  std::vector<float*> out;         // [tile][row]
  std::vector<const float*> b;     // [tap]
};

class FastConv final : public FastConv2DTranspose {
 public:
  FastConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights);
  void Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
           const ComputePool& pool) const override;
  int64_t packed_bytes() const override {
    return (packed_.kernel.size() + packed_.bias.size()) * int64_t{sizeof(float)};
  }

 private:
  int64_t PhasePixels(const RunShape& shape, int64_t phase) const {
    return shape.batch * PhaseLength(shape.out_h, y_.stride, phase / x_.stride) *
           PhaseLength(shape.out_w, x_.stride, phase % x_.stride);
  }
  int64_t PhaseBlocks(const RunShape& shape, int64_t phase) const {
    return (PhasePixels(shape, phase) + block_pixels_ - 1) / block_pixels_;
  }
  void RunItems(const RunShape& shape, int64_t begin, int64_t end) const;
  void RunBlock(const RunShape& shape, int64_t phase, int64_t first, int64_t last) const;
  int64_t BuildTile(const RunShape& shape, int64_t phase, int64_t first, int64_t rows,
                    const float** a, int64_t* taps, float** out) const;

  LayerConfig config_;
  int64_t channels_, filters_, kw_;
  AxisPlan y_, x_;
  const KernelSet* kernels_;
  bool dot_;             // few filters: dot kernels over channels instead of GEMM tiles
  GemmVariant gemm_;     // when !dot_
  int64_t tile_;         // pixels per microkernel call
  int64_t n_blocks_;     // blocks of gemm_.nr output channels
  int64_t max_taps_;     // most taps of any phase
  int64_t block_pixels_; // pixels per parallel work item (a multiple of tile_)
  double pixel_flops_;   // average FLOPs per output pixel, for the parallel grain
  PackedWeights packed_;
  AlignedFloats zeros_;  // the input row that taps outside the input read
};

FastConv::FastConv(const LayerConfig& config, int64_t channels, const LayerWeights& weights)
    : config_(config),
      channels_(channels),
      filters_(config.filters),
      kw_(config.kernel_size[1]),
      y_(PlanAxis(config, 0)),
      x_(PlanAxis(config, 1)),
      kernels_(&SelectKernels()),
      zeros_(channels) {
  max_taps_ = 0;
  for (const auto& ty : y_.phases) {
    for (const auto& tx : x_.phases) {
      max_taps_ = std::max<int64_t>(max_taps_, int64_t(ty.size() * tx.size()));
    }
  }
  const int64_t taps = config.kernel_size[0] * kw_;
  dot_ = filters_ <= kMaxDotFilters;
  if (dot_) {
    tile_ = kernels_->dot_mr[filters_];
    n_blocks_ = 1;
    packed_ = PackForDot(weights, taps, filters_, channels_);
  } else {
    // The widest variant that wastes the fewest padded output channels.
    gemm_ = kernels_->gemm[0];
    auto padded = [&](const GemmVariant& v) { return (filters_ + v.nr - 1) / v.nr * v.nr; };
    for (int i = 1; i < kernels_->num_gemm; ++i) {
      if (padded(kernels_->gemm[i]) < padded(gemm_)) gemm_ = kernels_->gemm[i];
    }
    tile_ = gemm_.mr;
    n_blocks_ = (filters_ + gemm_.nr - 1) / gemm_.nr;
    packed_ = PackForGemm(weights, taps, filters_, channels_, gemm_.nr);
  }
  block_pixels_ = tile_ * 4;
  pixel_flops_ = 2.0 * double(taps) / double(y_.stride * x_.stride) * double(channels_) *
                 double(filters_);
}

void FastConv::Run(const float* input, int64_t batch, int64_t in_h, int64_t in_w, float* output,
                   const ComputePool& pool) const {
  const RunShape shape{input,  output, batch, in_h, in_w, config_.OutputLength(in_h, 0),
                       config_.OutputLength(in_w, 1)};
  const int64_t phases = y_.stride * x_.stride;
  int64_t items = 0;
  for (int64_t phase = 0; phase < phases; ++phase) items += PhaseBlocks(shape, phase);
  const double item_flops = pixel_flops_ * double(block_pixels_);
  const auto grain = static_cast<int64_t>(std::max(1.0, kMinTaskFlops / item_flops));
  ParallelFor(pool, items, grain,
              [&](int64_t begin, int64_t end) { RunItems(shape, begin, end); });
}

// Items are the blocks of every phase, phase after phase.
void FastConv::RunItems(const RunShape& shape, int64_t begin, int64_t end) const {
  int64_t phase = 0, phase_begin = 0, blocks = PhaseBlocks(shape, 0);
  for (int64_t item = begin; item < end; ++item) {
    while (item >= phase_begin + blocks) {
      phase_begin += blocks;
      blocks = PhaseBlocks(shape, ++phase);
    }
    const int64_t first = (item - phase_begin) * block_pixels_;
    const int64_t last = std::min(first + block_pixels_, PhasePixels(shape, phase));
    RunBlock(shape, phase, first, last);
  }
}

// Pixels [first, last) of `phase`, numbered (example, row, column) within the phase.
void FastConv::RunBlock(const RunShape& shape, int64_t phase, int64_t first,
                        int64_t last) const {
  thread_local Scratch s;
  const int64_t tiles = (last - first + tile_ - 1) / tile_;
  s.a.resize(std::max<size_t>(s.a.size(), tiles * max_taps_ * tile_));
  s.taps.resize(std::max<size_t>(s.taps.size(), tiles * max_taps_));
  s.num_taps.resize(std::max<size_t>(s.num_taps.size(), tiles));
  s.rows.resize(std::max<size_t>(s.rows.size(), tiles));
  s.out.resize(std::max<size_t>(s.out.size(), tiles * tile_));
  s.b.resize(std::max<size_t>(s.b.size(), max_taps_));
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t start = first + i * tile_;
    s.rows[i] = std::min(tile_, last - start);
    s.num_taps[i] = BuildTile(shape, phase, start, s.rows[i], &s.a[i * max_taps_ * tile_],
                              &s.taps[i * max_taps_], &s.out[i * tile_]);
  }
  const float* kernel = packed_.kernel.data();
  if (dot_) {
    for (int64_t i = 0; i < tiles; ++i) {
      for (int64_t t = 0; t < s.num_taps[i]; ++t) {
        s.b[t] = kernel + s.taps[i * max_taps_ + t] * filters_ * channels_;
      }
      kernels_->dot(s.rows[i], filters_, channels_, s.num_taps[i], &s.a[i * max_taps_ * tile_],
                    s.b.data(), packed_.bias.data(), &s.out[i * tile_]);
    }
    return;
  }
  const int64_t panel = channels_ * gemm_.nr;
  for (int64_t j = 0; j < n_blocks_; ++j) {
    for (int64_t i = 0; i < tiles; ++i) {
      for (int64_t t = 0; t < s.num_taps[i]; ++t) {
        s.b[t] = kernel + (s.taps[i * max_taps_ + t] * n_blocks_ + j) * panel;
      }
      float* out[kMaxTile];
      for (int64_t r = 0; r < s.rows[i]; ++r) out[r] = s.out[i * tile_ + r] + j * gemm_.nr;
      gemm_.fn(s.rows[i], channels_, s.num_taps[i], &s.a[i * max_taps_ * tile_], s.b.data(),
               packed_.bias.data() + j * gemm_.nr, out,
               std::min<int64_t>(gemm_.nr, filters_ - j * gemm_.nr));
    }
  }
}

// Fills the indirection list of one tile of `rows` pixels from pixel `first` of `phase`:
// a[t * rows + r] for each tap t that reaches the input for at least one pixel (taps that
// reach it for none are dropped), taps[t] = p * kw + q, out[r]. Returns the taps kept.
int64_t FastConv::BuildTile(const RunShape& shape, int64_t phase, int64_t first, int64_t rows,
                            const float** a, int64_t* taps, float** out) const {
  const int64_t phase_y = phase / x_.stride, phase_x = phase % x_.stride;
  const int64_t len_y = PhaseLength(shape.out_h, y_.stride, phase_y);
  const int64_t len_x = PhaseLength(shape.out_w, x_.stride, phase_x);
  // Pixel r is (ex, my[r], mx[r]); base[r] is where it would read through a tap of offset 0.
  int64_t my[kMaxTile], mx[kMaxTile];
  const float* base[kMaxTile];
  int64_t x = first % len_x, y = first / len_x % len_y, ex = first / len_x / len_y;
  for (int64_t r = 0; r < rows; ++r) {
    my[r] = y;
    mx[r] = x;
    base[r] = shape.input + ((ex * shape.in_h + y) * shape.in_w + x) * channels_;
    out[r] = shape.output + ((ex * shape.out_h + y * y_.stride + phase_y) * shape.out_w +
                             x * x_.stride + phase_x) * filters_;
    if (++x == len_x) {
      x = 0;
      if (++y == len_y) y = 0, ++ex;
    }
  }
  int64_t kept = 0;
  for (const Tap& ty : y_.phases[phase_y]) {
    for (const Tap& tx : x_.phases[phase_x]) {
      const int64_t delta = (ty.offset * shape.in_w + tx.offset) * channels_;
      bool any = false;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t iy = my[r] + ty.offset, ix = mx[r] + tx.offset;
        const bool inside = iy >= 0 && iy < shape.in_h && ix >= 0 && ix < shape.in_w;
        a[kept * rows + r] = inside ? base[r] + delta : zeros_.data();
        any |= inside;
      }
      if (any) taps[kept++] = ty.index * kw_ + tx.index;
    }
  }
  return kept;
}

}  // namespace

std::unique_ptr<const FastConv2DTranspose> FastConv2DTranspose::Create(
    const LayerConfig& config, int64_t in_channels, const LayerWeights& weights) {
  return std::make_unique<FastConv>(config, in_channels, weights);
}

}  // namespace tconv::internal
