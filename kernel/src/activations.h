// The TF 2.x activation functions (spec §5), applied in place to a layer's output.
// Internal to the kernel library.
#ifndef TCONV_KERNEL_SRC_ACTIVATIONS_H_
#define TCONV_KERNEL_SRC_ACTIVATIONS_H_

#include <cstdint>

#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

// Applies `activation` to `rows` x `row_length` contiguous floats, where a row is the LAST axis
// of the output tensor in the layer's data_format (softmax normalises each row: the channels
// for channels_last, the width for channels_first, as Keras does). Each element (each row for
// softmax) is computed by the same scalar code however the work is split across `pool`, so
// results are bit-identical for any batch composition and thread count.
void ApplyActivation(Activation activation, float* data, int64_t rows, int64_t row_length,
                     const ComputePool& pool);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_ACTIVATIONS_H_
