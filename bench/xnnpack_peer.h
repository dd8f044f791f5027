// XNNPACK's deconvolution (the CPU engine behind TensorFlow Lite) as a benchmark peer: the
// operator API of Debian's libxnnpack-dev (xnn_create_deconvolution2d_nhwc_f32, then setup and
// xnn_run_operator), NHWC in and out like tconv, threaded by a pthreadpool of the thread count.
// The operator is created once per layer and batch (XNNPACK packs the weights then) and set up
// once for the caller's input and output buffers (setup builds the indirection buffer for those
// pointers; TensorFlow Lite's delegate also sets up again only when a tensor moves), so a call
// is xnn_run_operator alone.
//
// A benchmark-only dependency: without XNNPACK at build time Create() returns UNIMPLEMENTED.
#ifndef TCONV_BENCH_XNNPACK_PEER_H_
#define TCONV_BENCH_XNNPACK_PEER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::bench {

class XnnpackDeconvolution {
 public:
  // "XNNPACK (libXNNPACK.so.0, pthreadpool threads)", or why it is missing.
  static std::string Describe();

  // One Keras layer (channels_last config) for inputs of batch x in_h x in_w x in_c, run on a
  // pthreadpool of `threads` threads (the calling thread is one of them), kept per thread
  // count for the process. UNIMPLEMENTED without XNNPACK, INTERNAL when XNNPACK refuses.
  static absl::StatusOr<std::unique_ptr<XnnpackDeconvolution>> Create(const LayerConfig& config,
                                                                      const LayerWeights& weights,
                                                                      const Shape4& input_shape,
                                                                      int threads);
  virtual ~XnnpackDeconvolution() = default;
  // NHWC in, NHWC out (bias added), blocking until done. The operator is set up again only
  // when `input` or `output` differ from the previous call's.
  virtual absl::Status Run(const float* input, float* output) = 0;
};

}  // namespace tconv::bench

#endif  // TCONV_BENCH_XNNPACK_PEER_H_
