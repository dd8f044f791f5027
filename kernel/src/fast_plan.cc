#include "fast_plan.h"

#include <algorithm>

namespace tconv::internal {

std::vector<std::vector<Tap>> AxisTaps(const LayerConfig& config, int axis) {
  const int64_t k = config.kernel_size[axis], s = config.strides[axis];
  const int64_t d = config.dilation_rate[axis];
  // The crop at the top/left (spec §3.2) does not depend on the input length: n = 1 gives it.
  const int64_t full = (k - 1) * d + 1;
  const int64_t crop = config.padding == Padding::kSame
                           ? std::max<int64_t>(0, full - config.OutputLength(1, axis)) / 2
                           : 0;
  std::vector<std::vector<Tap>> phases(s);
  for (int64_t phase = 0; phase < s; ++phase) {
    for (int64_t p = 0; p < k; ++p) {
      const int64_t num = phase + crop - p * d;  // (y + crop - p*d) / s = m + num / s
      if (num % s == 0) phases[phase].push_back({p, num / s});
    }
  }
  return phases;
}

GemmVariant PickGemm(const KernelSet& kernels, int64_t filters) {
  GemmVariant best = kernels.gemm[0];
  // Time per pixel: the columns computed, padding included, at the tile's rate.
  auto cost = [&](const GemmVariant& v) {
    const int64_t padded = (filters + v.nr - 1) / v.nr * v.nr;
    return double(padded) / v.rate;
  };
  for (int i = 1; i < kernels.num_gemm; ++i) {
    if (cost(kernels.gemm[i]) < cost(best)) best = kernels.gemm[i];
  }
  return best;
}

int SplitRuns(const std::vector<int64_t>& offsets, int64_t n, int64_t len,
              int64_t bounds[kMaxRuns + 1]) {
  // Row m reaches the input through the tap of offset o iff 0 <= m + o < n: that changes at
  // m = -o and m = n - o.
  int count = 0;
  bounds[count++] = 0;
  for (int64_t o : offsets) {
    for (int64_t edge : {-o, n - o}) {
      if (edge > 0 && edge < len) bounds[count++] = edge;
    }
  }
  std::sort(bounds, bounds + count);
  count = static_cast<int>(std::unique(bounds, bounds + count) - bounds);
  bounds[count] = len;
  return count;
}

FastPlan MakePlan(const LayerConfig& config, int64_t channels, const KernelSet& kernels) {
  FastPlan plan;
  plan.stride_y = config.strides[0];
  plan.stride_x = config.strides[1];
  const auto taps_y = AxisTaps(config, 0), taps_x = AxisTaps(config, 1);
  for (const auto& ty : taps_y) {
    plan.offsets_y.emplace_back();
    for (const Tap& y : ty) plan.offsets_y.back().push_back(y.offset);
  }
  for (const auto& tx : taps_x) {
    plan.offsets_x.emplace_back();
    for (const Tap& x : tx) plan.offsets_x.back().push_back(x.offset);
  }
  for (const auto& ty : taps_y) {
    for (const auto& tx : taps_x) {
      PhaseTaps phase;
      for (const Tap& y : ty) {
        for (const Tap& x : tx) {
          phase.kernel_index.push_back(y.index * config.kernel_size[1] + x.index);
          phase.offset_y.push_back(y.offset);
          phase.offset_x.push_back(x.offset);
        }
      }
      plan.max_taps = std::max(plan.max_taps, phase.size());
      plan.phases.push_back(std::move(phase));
    }
  }
  plan.kernels = &kernels;
  const int64_t filters = config.filters;
  plan.dot = filters <= kMaxDotFilters;
  int64_t width = filters;  // output channels one work item computes
  if (plan.dot) {
    plan.tile = kernels.dot_mr[filters];
    plan.block_pixels = plan.tile * 8;
  } else {
    plan.gemm = PickGemm(kernels, filters);
    plan.tile = plan.gemm.mr;
    plan.n_blocks = (filters + plan.gemm.nr - 1) / plan.gemm.nr;
    width = plan.gemm.nr;
    plan.chunk = ChunkChannels(plan.gemm.nr, channels);
    plan.block_pixels = BlockPixels(plan.gemm);
    plan.fuse_taps =
        plan.gemm.taps != nullptr &&
        plan.max_taps * channels * plan.gemm.nr * int64_t{sizeof(float)} <= kFusedTapBytes;
  }
  const int64_t kernel_taps = config.kernel_size[0] * config.kernel_size[1];
  plan.pixel_flops = 2.0 * double(kernel_taps) / double(plan.stride_y * plan.stride_x) *
                     double(channels) * double(width);
  return plan;
}

}  // namespace tconv::internal
