// The TF 2.x and Keras 3 activation functions (spec §5), applied in place to a layer's output.
// Internal to the kernel library.
#ifndef TCONV_KERNEL_SRC_ACTIVATIONS_H_
#define TCONV_KERNEL_SRC_ACTIVATIONS_H_

#include <cstdint>

#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

// Applies `activation` to `rows` x `row_length` contiguous floats, where a row is the LAST axis
// of the output tensor in the layer's data_format (softmax normalises each row: the channels
// for channels_last, the width for channels_first, as Keras does). `vector_math` (the layer's
// KernelSet::vector_activations, fixed when the layer was created) sends the transcendental
// element-wise ones through ActivateRangeAvx2, else every element takes the scalar double
// formula. Either way an element's (a row's, for the row activations) result is a function of
// its value(s) alone, not of its neighbours or of how the work is split across `pool`, so
// results are bit-identical for any batch composition and thread count.
void ApplyActivation(Activation activation, float* data, int64_t rows, int64_t row_length,
                     bool vector_math, const ComputePool& pool);

// Constants of the formulas, shared by the scalar code and activations_avx2.cc.
// SELU's, from Klambauer et al., as TF 2.x defines them.
inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;
// TF's softplus kernel: beyond |log(float epsilon) + 2| the result equals x (or exp(x)) to
// float precision, and computing log1p(exp(x)) there would overflow (or lose exp(x)).
inline constexpr double kSoftplusThreshold = -13.942385152878742;  // log(FLT_EPSILON) + 2
inline constexpr double kSqrt2 = 1.4142135623730951;               // sqrt(2.0), rounded

// The transcendental activations over [first, last) with AVX2 vector math (call only when the
// CPU has AVX2); false, touching nothing, for the others.
bool ActivateRangeAvx2(Activation activation, float* first, float* last);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_ACTIVATIONS_H_
