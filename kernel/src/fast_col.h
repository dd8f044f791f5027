// The "col" fast path for layers with few output channels, as GEMM + col2im peers compute them
// (PyTorch, ONNX Runtime), but gathering instead of scattering:
//   1. one GEMM per call over every input pixel of the batch:
//        col[pixel][tap * F + f] = sum_c in[pixel][c] * w[tap][f][c]
//      (M = batch * in_h * in_w, N = kh * kw * F padded to the panel width, K = C), with the
//      existing GEMM microkernels, whose panels are wide even when F is 1-4;
//   2. a gather per output pixel: out[y][x][f] = bias[f] + the col entries of the taps (p, q)
//      whose input pixel exists, p-major, q ascending.
// Each output element therefore sees a fixed sequence of operations (channels ascending within
// each col entry, then its taps in order) whatever the batch or the thread count: batch- and
// thread-invariant bit for bit, like the tiled path. channels_first input runs the transposed
// GEMM (colT[tap * F + f][pixel], pixel panels packed straight from NCHW) and gathers NCHW
// rows: no transposes, and the same bits as channels_last. Internal to the kernel library.
#ifndef TCONV_KERNEL_SRC_FAST_COL_H_
#define TCONV_KERNEL_SRC_FAST_COL_H_

#include <cstdint>
#include <memory>

#include "fast_conv.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

// The col implementation of the layer when it is the faster path for it (see ColPathPays in
// fast_col.cc for what was measured), else `fallback` itself. The col implementation keeps
// `fallback` for inputs whose col matrix would be too large (over 256 MiB per example).
// `config` is validated and `weights` sized to it, as for FastConv2DTranspose::Create; the col
// implementation runs with `fallback`'s kernel set.
std::unique_ptr<const FastConv2DTranspose> MakeColConv(
    const LayerConfig& config, int64_t in_channels, const LayerWeights& weights,
    std::unique_ptr<const FastConv2DTranspose> fallback);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_FAST_COL_H_
