// oneDNN's deconvolution_forward as the benchmark's peer: NHWC source and destination (the
// layout tconv serves), weights in the layout oneDNN picks (reordered once), primitive created
// once per layer and batch, as a serving system would. A benchmark-only dependency: without
// oneDNN at build time Create() returns UNIMPLEMENTED and the benchmark says so.
#ifndef TCONV_BENCH_ONEDNN_PEER_H_
#define TCONV_BENCH_ONEDNN_PEER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::bench {

class OneDnnDeconvolution {
 public:
  // "oneDNN 2.6.3 (OpenMP)", or why it is missing.
  static std::string Describe();
  // Threads oneDNN's runtime uses for the following runs (Debian's libdnnl uses OpenMP).
  static void SetThreads(int threads);

  // One Keras layer (channels_last config) for inputs of batch x in_h x in_w x in_c.
  static absl::StatusOr<std::unique_ptr<OneDnnDeconvolution>> Create(const LayerConfig& config,
                                                                     const LayerWeights& weights,
                                                                     const Shape4& input_shape);
  virtual ~OneDnnDeconvolution() = default;
  // NHWC in, NHWC out (bias added), blocking until done.
  virtual void Run(const float* input, float* output) = 0;
};

}  // namespace tconv::bench

#endif  // TCONV_BENCH_ONEDNN_PEER_H_
