// Conv2DTranspose: one configured Keras Conv2DTranspose layer, ready to run forward passes.
//
//   ASSIGN_OR_RETURN(LayerConfig config, LayerConfig::FromJson(json));
//   ASSIGN_OR_RETURN(LayerWeights weights, InitializeWeights(config, /*in_channels=*/256, seed));
//   ASSIGN_OR_RETURN(auto layer, Conv2DTranspose::Create(config, 256, std::move(weights)));
//   ASSIGN_OR_RETURN(Shape4 out_shape, layer->OutputShape({8, 7, 7, 256}));
//   RETURN_IF_ERROR(layer->Run(input, {8, 7, 7, 256}, output, ComputePool::Default()));
//
// A created layer is immutable: Run() is const and may be called from many threads at once.
// Every example's output is bit-for-bit the same whether it runs alone or inside a batch, and
// for any number of threads (the server merges requests into batches).
#ifndef TCONV_KERNEL_CONV2D_TRANSPOSE_H_
#define TCONV_KERNEL_CONV2D_TRANSPOSE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/layer_config.h"

namespace tconv {
namespace internal {
class FastConv2DTranspose;  // kernel/src/fast_conv.h
}  // namespace internal

// A rank-4 shape in the layer's data_format: (B, H, W, C) or (B, C, H, W).
using Shape4 = std::array<int64_t, 4>;

struct LayerWeights {
  std::vector<float> kernel;  // Keras layout (kh, kw, filters, in_channels), row-major
  std::vector<float> bias;    // (filters); empty when the config has use_bias = false
};

// Draws weights from the config's kernel_initializer / bias_initializer (spec §6, TF 2.x
// distributions and fan rules; TF's own random streams cannot be reproduced). The same
// (config, in_channels, seed) always gives the same weights. A seed in the initializer's own
// config takes precedence over `seed`.
absl::StatusOr<LayerWeights> InitializeWeights(const LayerConfig& config, int64_t in_channels,
                                               uint64_t seed);

enum class Implementation {
  kFast,       // packed weights, SIMD microkernels, parallel over the pool
  kReference,  // plain loops straight from the spec; the oracle of the tests
};

class Conv2DTranspose {
 public:
  // Validates config and weights (INVALID_ARGUMENT naming the argument and value: kernel or
  // bias element counts that do not fit, non-finite weights, sizes beyond LayerLimits) and
  // packs the weights for the fast path once.
  static absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> Create(LayerConfig config,
                                                                       int64_t in_channels,
                                                                       LayerWeights weights);
  ~Conv2DTranspose();

  const LayerConfig& config() const { return config_; }
  int64_t in_channels() const { return in_channels_; }
  const LayerWeights& weights() const { return weights_; }
  // Bytes held by the fast path's packed copy of the weights.
  int64_t packed_weight_bytes() const;

  // The output shape for an input shape (both in the layer's data_format), or INVALID_ARGUMENT
  // for a batch < 1, sizes < 1, a channel mismatch or a result beyond LayerLimits.
  absl::StatusOr<Shape4> OutputShape(const Shape4& input_shape) const;

  // One forward pass: activation(window(full(input, kernel)) + bias). `input` holds
  // input_shape's elements, `output` exactly OutputShape(input_shape)'s; anything else is
  // INVALID_ARGUMENT. Runs on `pool`; safe to call concurrently.
  absl::Status Run(absl::Span<const float> input, const Shape4& input_shape,
                   absl::Span<float> output, const ComputePool& pool,
                   Implementation implementation = Implementation::kFast) const;

 private:
  Conv2DTranspose(LayerConfig config, int64_t in_channels, LayerWeights weights,
                  std::unique_ptr<const internal::FastConv2DTranspose> fast);

  LayerConfig config_;
  int64_t in_channels_;
  LayerWeights weights_;
  std::unique_ptr<const internal::FastConv2DTranspose> fast_;
};

}  // namespace tconv

#endif  // TCONV_KERNEL_CONV2D_TRANSPOSE_H_
