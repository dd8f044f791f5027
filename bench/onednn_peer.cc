#include "onednn_peer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

#ifdef TCONV_HAVE_DNNL
#include <omp.h>

#include "dnnl.hpp"
#endif

namespace tconv::bench {

#ifndef TCONV_HAVE_DNNL

std::string OneDnnDeconvolution::Describe() {
  return "oneDNN: not found at build time (install libdnnl-dev: scripts/install-deps.sh --bench)";
}
void OneDnnDeconvolution::SetThreads(int) {}
absl::StatusOr<std::unique_ptr<OneDnnDeconvolution>> OneDnnDeconvolution::Create(
    const LayerConfig&, const LayerWeights&, const Shape4&) {
  return absl::UnimplementedError("built without oneDNN");
}

#else

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

class Peer final : public OneDnnDeconvolution {
 public:
  Peer(const LayerConfig& config, const LayerWeights& weights, const Shape4& in);
  void Run(const float* input, float* output) override;

 private:
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  dnnl::deconvolution_forward primitive_;
  memory::desc src_md_, dst_md_;
  memory weights_, bias_;
};

Peer::Peer(const LayerConfig& config, const LayerWeights& weights, const Shape4& in) {
  const memory::dim batch = in[0], c = in[3], f = config.filters;
  memory::dims out{batch, f, config.OutputLength(in[1], 0), config.OutputLength(in[2], 1)};
  memory::dims strides, dilates, pad_l, pad_r;
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t n = in[1 + axis], k = config.kernel_size[axis], s = config.strides[axis];
    const int64_t d = config.dilation_rate[axis];
    const int64_t full = (n - 1) * s + (k - 1) * d + 1, o = out[2 + axis];
    const int64_t crop = config.padding == Padding::kSame ? std::max<int64_t>(0, full - o) / 2 : 0;
    strides.push_back(s);
    dilates.push_back(d - 1);  // oneDNN counts the gaps
    pad_l.push_back(crop);
    pad_r.push_back(full - o - crop);  // negative = rows appended at the end
  }
  src_md_ = memory::desc({batch, c, in[1], in[2]}, kF32, Tag::nhwc);
  dst_md_ = memory::desc(out, kF32, Tag::nhwc);
  const memory::dims wdims{f, c, config.kernel_size[0], config.kernel_size[1]};
  const memory::desc bias_md({f}, kF32, Tag::x);
  const dnnl::deconvolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, src_md_,
      memory::desc(wdims, kF32, Tag::any), bias_md, dst_md_, strides, dilates, pad_l, pad_r);
  const dnnl::deconvolution_forward::primitive_desc pd(desc, engine_);
  primitive_ = dnnl::deconvolution_forward(pd);
  // Keras (kh, kw, F, C) is oneDNN's (O, I, H, W) laid out h, w, o, i; no spatial flip.
  const memory::dim kw = config.kernel_size[1];
  const memory::dims keras_strides{c, 1, kw * f * c, f * c};
  memory keras(memory::desc(wdims, kF32, keras_strides), engine_,
               const_cast<float*>(weights.kernel.data()));
  weights_ = memory(pd.weights_desc(), engine_);
  dnnl::reorder(keras, weights_).execute(stream_, keras, weights_);
  bias_ = memory(bias_md, engine_);
  float* bias = static_cast<float*>(bias_.get_data_handle());
  for (int64_t i = 0; i < f; ++i) bias[i] = weights.bias.empty() ? 0.0f : weights.bias[i];
  stream_.wait();
}

void Peer::Run(const float* input, float* output) {
  memory src(src_md_, engine_, const_cast<float*>(input));
  memory dst(dst_md_, engine_, output);
  primitive_.execute(stream_, {{DNNL_ARG_SRC, src},
                               {DNNL_ARG_WEIGHTS, weights_},
                               {DNNL_ARG_BIAS, bias_},
                               {DNNL_ARG_DST, dst}});
  stream_.wait();
}

}  // namespace

std::string OneDnnDeconvolution::Describe() {
  const dnnl_version_t* v = dnnl_version();
  return absl::StrCat("oneDNN ", v->major, ".", v->minor, ".", v->patch, " (",
                      v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP threads" : "non-OpenMP runtime",
                      ")");
}

void OneDnnDeconvolution::SetThreads(int threads) { omp_set_num_threads(threads); }

absl::StatusOr<std::unique_ptr<OneDnnDeconvolution>> OneDnnDeconvolution::Create(
    const LayerConfig& config, const LayerWeights& weights, const Shape4& input_shape) {
  try {
    return std::unique_ptr<OneDnnDeconvolution>(new Peer(config, weights, input_shape));
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN refused ", config.name, ": ", e.what()));
  }
}

#endif

}  // namespace tconv::bench
