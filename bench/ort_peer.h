// ONNX Runtime's ConvTranspose as a benchmark peer. The package index's onnxruntime wheel (like
// npm's onnxruntime-node and Maven's onnxruntime jar) ships libonnxruntime.so without the C API
// header, so ORT runs in its Python API: bench/ort_peer.py, in a pinned venv
// (bench/ort_requirements.txt, made by bench/run.sh), started once as a child process and
// driven over pipes. Each workload's input, kernel and bias go to files once; the child builds
// the session (intra-op threads = the thread count, inter-op 1, all graph optimisations, input
// and preallocated output bound by address), runs it once and hands back its answer for the
// check; then each timing round is one command, timed inside the child (untimed calls, then
// the timed ones), so the pipe is not in the times but one Python call per ORT call is
// (Describe() says how long an empty one takes).
#ifndef TCONV_BENCH_ORT_PEER_H_
#define TCONV_BENCH_ORT_PEER_H_

#include <sys/types.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::bench {

class OrtPeer {
 public:
  // Starts `python script` (the venv's interpreter and bench/ort_peer.py) with a scratch folder
  // for the workloads' files. UNAVAILABLE when the child does not start or answer.
  static absl::StatusOr<std::unique_ptr<OrtPeer>> Start(const std::string& python,
                                                        const std::string& script);
  ~OrtPeer();

  // "ONNX Runtime 1.23.2 (Python 3.11, ...; one Python call of an empty graph: N us ...)".
  absl::StatusOr<std::string> Describe();

  // Builds the session of one Keras layer (channels_last config) for `input` (NHWC,
  // `input_shape`) on `threads` intra-op threads and returns its first answer (NHWC) for the
  // check; replaces the previous layer. INTERNAL when ORT refuses the layer.
  absl::StatusOr<std::vector<float>> Load(const LayerConfig& config, const LayerWeights& weights,
                                          const std::vector<float>& input,
                                          const Shape4& input_shape, int threads);
  // One timing round of the loaded layer: untimed calls for at least `warm_up_ms` (at least
  // one), then `calls` timed calls; their milliseconds (wall clock, or the child's calling
  // thread's CPU time when `thread_cpu`).
  absl::StatusOr<std::vector<double>> Round(double warm_up_ms, int calls, bool thread_cpu);
  // Frees the loaded session.
  absl::Status Drop();

  // The child's process id, so that the benchmark can wait for its workers to go idle too.
  pid_t pid() const { return pid_; }

 private:
  OrtPeer() = default;
  // Sends one command line and returns the answer line; INTERNAL for an "error ..." answer.
  absl::StatusOr<std::string> Ask(const std::string& command);

  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  std::string dir_;  // scratch folder for input, kernel, bias and answer files
};

}  // namespace tconv::bench

#endif  // TCONV_BENCH_ORT_PEER_H_
