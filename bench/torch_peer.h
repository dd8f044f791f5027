// PyTorch's conv_transpose2d (libtorch, the C++ API) as a benchmark peer, served the way a
// PyTorch user serves NHWC data: the input wrapped without a copy as a channels_last tensor,
// weights converted once from the Keras layout to PyTorch's [C, F, kh, kw], inference mode.
// The weights stay in PyTorch's default contiguous layout: converted to channels_last too (what
// `model.to(memory_format=torch.channels_last)` does) they made Debian's build 1.1-6x slower
// (26 vs 4.5 ms on pix2pix_up2 b1), and an NCHW input with transposes around the call was no
// faster than the channels_last input.
// Everything PyTorch needs per call to hand back the Keras answer in the caller's NHWC buffer
// (cropping the extra bottom/right row of padding='same', layout conversion, the copy out of
// the tensor PyTorch allocates) is part of Run and of its time.
//
// Debian's libtorch 1.13 is built with oneDNN ("mkldnn"), but conv_transpose2d does not use it
// (ONEDNN_VERBOSE shows no call; conv2d does): every case runs PyTorch's own GEMM + col2im
// (slow_conv_transpose2d) on the system BLAS (bench/README.md).
//
// A benchmark-only dependency: without libtorch at build time Create() returns UNIMPLEMENTED.
#ifndef TCONV_BENCH_TORCH_PEER_H_
#define TCONV_BENCH_TORCH_PEER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::bench {

class TorchDeconvolution {
 public:
  // "PyTorch 1.13.0 (OpenMP threads, BLAS <library file>)", or why it is missing.
  static std::string Describe();
  // Threads PyTorch uses for the following runs (at::set_num_threads: OpenMP in Debian's
  // build, which also sets oneDNN's and OpenBLAS' (OpenMP variant) thread count).
  static void SetThreads(int threads);

  // One Keras layer (channels_last config) for inputs of batch x in_h x in_w x in_c.
  static absl::StatusOr<std::unique_ptr<TorchDeconvolution>> Create(const LayerConfig& config,
                                                                    const LayerWeights& weights,
                                                                    const Shape4& input_shape);
  virtual ~TorchDeconvolution() = default;
  // NHWC in, NHWC out (bias added), blocking until done.
  virtual void Run(const float* input, float* output) = 0;
};

}  // namespace tconv::bench

#endif  // TCONV_BENCH_TORCH_PEER_H_
