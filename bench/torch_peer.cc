#include "torch_peer.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

#ifdef TCONV_HAVE_TORCH
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <dlfcn.h>
#include <torch/version.h>
#endif

namespace tconv::bench {

#ifndef TCONV_HAVE_TORCH

std::string TorchDeconvolution::Describe() {
  return "PyTorch: not found at build time (install libtorch-dev: scripts/install-deps.sh --bench)";
}
void TorchDeconvolution::SetThreads(int) {}
absl::StatusOr<std::unique_ptr<TorchDeconvolution>> TorchDeconvolution::Create(const LayerConfig&,
                                                                               const LayerWeights&,
                                                                               const Shape4&) {
  return absl::UnimplementedError("built without PyTorch");
}

#else

namespace {

// NCHW sizes with NHWC strides: PyTorch's channels_last view of an NHWC buffer.
at::Tensor ChannelsLastView(float* data, const std::vector<int64_t>& nchw) {
  const int64_t c = nchw[1], w = nchw[3];
  return at::from_blob(data, nchw, {nchw[2] * w * c, 1, w * c, c}, at::kFloat);
}

class Peer final : public TorchDeconvolution {
 public:
  Peer(const LayerConfig& config, const LayerWeights& weights, const Shape4& in);
  void Run(const float* input, float* output) override;

 private:
  std::vector<int64_t> in_, out_;  // NCHW sizes of the Keras input and output
  std::vector<int64_t> stride_, padding_, output_padding_, dilation_;
  at::Tensor weight_;               // [C, F, kh, kw], contiguous (see torch_peer.h)
  c10::optional<at::Tensor> bias_;  // [F]
};

// PyTorch crops `padding` from both ends of the full result of length L, then appends
// `output_padding` (< stride) rows; Keras crops t = floor((L - o) / 2) at the top and the rest
// at the bottom. padding = t gives Keras' top; when L - o is odd PyTorch's answer has one row
// too many at the bottom, which Run leaves out when it copies the answer out.
Peer::Peer(const LayerConfig& config, const LayerWeights& weights, const Shape4& in) {
  const int64_t c = in[3], f = config.filters;
  const int64_t kh = config.kernel_size[0], kw = config.kernel_size[1];
  in_ = {in[0], c, in[1], in[2]};
  out_ = {in[0], f, config.OutputLength(in[1], 0), config.OutputLength(in[2], 1)};
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t n = in[1 + axis], k = config.kernel_size[axis], s = config.strides[axis];
    const int64_t d = config.dilation_rate[axis];
    const int64_t full = (n - 1) * s + (k - 1) * d + 1, o = out_[2 + axis];
    const int64_t crop = config.padding == Padding::kSame ? std::max<int64_t>(0, full - o) / 2 : 0;
    stride_.push_back(s);
    dilation_.push_back(d);
    padding_.push_back(crop);
    output_padding_.push_back(std::max<int64_t>(0, o - (full - 2 * crop)));
  }
  // Keras (kh, kw, F, C) -> PyTorch (C, F, kh, kw); neither flips the kernel.
  at::Tensor keras =
      at::from_blob(const_cast<float*>(weights.kernel.data()), {kh, kw, f, c}, at::kFloat);
  weight_ = keras.permute({3, 2, 0, 1}).contiguous();
  if (config.use_bias)
    bias_ = at::from_blob(const_cast<float*>(weights.bias.data()), {f}, at::kFloat).clone();
}

void Peer::Run(const float* input, float* output) {
  c10::InferenceMode inference;
  const at::Tensor result =
      at::conv_transpose2d(ChannelsLastView(const_cast<float*>(input), in_), weight_, bias_,
                           stride_, padding_, output_padding_, 1, dilation_);
  // One pass: crops the extra bottom/right row (if any), converts the layout if PyTorch
  // answered in NCHW, and writes the caller's buffer.
  ChannelsLastView(output, out_).copy_(result.narrow(2, 0, out_[2]).narrow(3, 0, out_[3]));
}

// Which BLAS PyTorch's GEMM runs on: Debian's libblas.so.3 is an alternative (OpenBLAS, BLIS,
// reference BLAS, ...), and OpenBLAS picks its kernels from the CPU model, falling back to
// generic SSE3 ones ("Prescott") on CPUs it does not know (bench/README.md: OPENBLAS_CORETYPE).
std::string BlasLibrary() {
  Dl_info info;
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  if (sgemm == nullptr || dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) return "?";
  char* real = realpath(info.dli_fname, nullptr);
  std::string blas = real != nullptr ? real : info.dli_fname;
  free(real);
  using Name = char* (*)();
  if (auto corename = reinterpret_cast<Name>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    const std::string core = corename();
    absl::StrAppend(&blas, ", OpenBLAS kernels for ", core);
    if (core == "Prescott") absl::StrAppend(&blas, " = generic SSE3: set OPENBLAS_CORETYPE");
  }
  return blas;
}

}  // namespace

std::string TorchDeconvolution::Describe() {
  return absl::StrCat("PyTorch ", TORCH_VERSION, " (",
                      at::get_parallel_info().find("OpenMP") != std::string::npos
                          ? "OpenMP threads"
                          : "non-OpenMP runtime",
                      ", BLAS ", BlasLibrary(), ")");
}

void TorchDeconvolution::SetThreads(int threads) { at::set_num_threads(threads); }

absl::StatusOr<std::unique_ptr<TorchDeconvolution>> TorchDeconvolution::Create(
    const LayerConfig& config, const LayerWeights& weights, const Shape4& input_shape) {
  try {
    auto peer = std::make_unique<Peer>(config, weights, input_shape);
    // A first call, so that a shape PyTorch refuses is an error here, not an exception later.
    std::vector<float> input(input_shape[0] * input_shape[1] * input_shape[2] * input_shape[3]);
    std::vector<float> output(input_shape[0] * config.OutputLength(input_shape[1], 0) *
                              config.OutputLength(input_shape[2], 1) * config.filters);
    peer->Run(input.data(), output.data());
    return std::unique_ptr<TorchDeconvolution>(std::move(peer));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("PyTorch refused ", config.name, ": ", e.what_without_backtrace()));
  }
}

#endif

}  // namespace tconv::bench
