// The fast path's entry: the layer's kernel set, chosen once here, and its implementation.
#include "fast_conv.h"

#include <memory>

#include "fast_col.h"
#include "fast_isa.h"
#include "fast_tiled.h"

namespace tconv::internal {

std::unique_ptr<const FastConv2DTranspose> FastConv2DTranspose::Create(
    const LayerConfig& config, int64_t in_channels, const LayerWeights& weights) {
  const KernelSet& kernels = SelectKernels();
  // Layers with few filters take the col path (fast_col.cc) where it measured faster.
  return MakeColConv(config, in_channels, weights,
                     std::make_unique<TiledConv>(config, in_channels, weights, kernels));
}

}  // namespace tconv::internal
