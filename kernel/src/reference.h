// The reference forward pass: plain loops written straight from the spec (§3.2), accumulating
// in double. It is slow on purpose and stays in the tree as the oracle the tests hold the fast
// path to. Internal to the kernel library.
#ifndef TCONV_KERNEL_SRC_REFERENCE_H_
#define TCONV_KERNEL_SRC_REFERENCE_H_

#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

// window(full(input, kernel)) + bias, without the activation, in config.data_format.
// `input_shape` is in the layer's data_format and already validated against `config`,
// `in_channels` and `weights` (Conv2DTranspose::Run checks); `output` holds exactly the
// output shape's elements. Single-threaded; deterministic.
void ReferenceConv2DTranspose(const LayerConfig& config, const LayerWeights& weights,
                              const float* input, const Shape4& input_shape, float* output);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_REFERENCE_H_
