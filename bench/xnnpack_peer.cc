#include "xnnpack_peer.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"

#ifdef TCONV_HAVE_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

namespace tconv::bench {

#ifndef TCONV_HAVE_XNNPACK

std::string XnnpackDeconvolution::Describe() {
  return "XNNPACK: not found at build time (install libxnnpack-dev: scripts/install-deps.sh "
         "--bench)";
}
absl::StatusOr<std::unique_ptr<XnnpackDeconvolution>> XnnpackDeconvolution::Create(
    const LayerConfig&, const LayerWeights&, const Shape4&, int) {
  return absl::UnimplementedError("built without XNNPACK");
}

#else

namespace {

// xnn_initialize's result, once per process (it selects the microkernels for the CPU).
xnn_status Initialize() {
  static const xnn_status status = xnn_initialize(nullptr);
  return status;
}

// The process's pthreadpool of `threads` threads, created on first use and kept, as a server
// keeps its pool; like Pool(threads) for tconv.
pthreadpool_t ThreadPool(int threads) {
  static std::mutex mutex;
  static std::map<int, pthreadpool_t> pools;
  std::lock_guard<std::mutex> lock(mutex);
  pthreadpool_t& pool = pools[threads];
  if (pool == nullptr) pool = pthreadpool_create(threads);
  return pool;
}

absl::Status Failed(const char* what, xnn_status status) {
  return absl::InternalError(absl::StrCat("XNNPACK ", what, " failed: status ", status));
}

class Peer final : public XnnpackDeconvolution {
 public:
  ~Peer() override {
    if (op_ != nullptr) xnn_delete_operator(op_);
  }
  absl::Status Init(const LayerConfig& config, const LayerWeights& weights, const Shape4& in,
                    int threads);
  absl::Status Run(const float* input, float* output) override;

 private:
  xnn_operator_t op_ = nullptr;
  pthreadpool_t pool_ = nullptr;
  Shape4 in_{};
  uint32_t adjustment_[2] = {0, 0};
  const float* set_input_ = nullptr;
  float* set_output_ = nullptr;
};

// XNNPACK's deconvolution "padding" crops the full result (length L = (n-1)*s + (k-1)*d + 1) at
// either end and "adjustment" (< stride) appends rows, as TensorFlow Lite's TRANSPOSE_CONV maps
// it: Keras' top crop t = floor((L - o) / 2) and the rest at the bottom, or rows appended when
// output_padding makes o larger than L - t.
absl::Status Peer::Init(const LayerConfig& config, const LayerWeights& weights, const Shape4& in,
                        int threads) {
  const int64_t c = in[3], f = config.filters;
  const int64_t kh = config.kernel_size[0], kw = config.kernel_size[1];
  in_ = in;
  uint32_t crop_begin[2], crop_end[2];
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t n = in[1 + axis], k = config.kernel_size[axis], s = config.strides[axis];
    const int64_t d = config.dilation_rate[axis];
    const int64_t full = (n - 1) * s + (k - 1) * d + 1, o = config.OutputLength(n, axis);
    const int64_t top = config.padding == Padding::kSame ? std::max<int64_t>(0, full - o) / 2 : 0;
    const int64_t bottom = full - o - top;  // negative: rows appended
    crop_begin[axis] = static_cast<uint32_t>(top);
    crop_end[axis] = static_cast<uint32_t>(std::max<int64_t>(0, bottom));
    adjustment_[axis] = static_cast<uint32_t>(std::max<int64_t>(0, -bottom));
  }
  // Keras (kh, kw, F, C) -> XNNPACK's (F, kh, kw, C) (output channels outermost); no flip.
  std::vector<float> kernel(weights.kernel.size());
  for (int64_t y = 0; y < kh; ++y) {
    for (int64_t x = 0; x < kw; ++x) {
      for (int64_t o = 0; o < f; ++o) {
        const float* from = &weights.kernel[((y * kw + x) * f + o) * c];
        std::copy(from, from + c, &kernel[((o * kh + y) * kw + x) * c]);
      }
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  const xnn_status status = xnn_create_deconvolution2d_nhwc_f32(
      crop_begin[0], crop_end[1], crop_end[0], crop_begin[1], kh, kw, config.strides[0],
      config.strides[1], config.dilation_rate[0], config.dilation_rate[1], /*groups=*/1, c, f,
      /*input_pixel_stride=*/c, /*output_pixel_stride=*/f, kernel.data(),
      config.use_bias ? weights.bias.data() : nullptr, -inf, inf, /*flags=*/0, &op_);
  if (status != xnn_status_success) return Failed("create_deconvolution2d_nhwc_f32", status);
  pool_ = ThreadPool(threads);
  return absl::OkStatus();
}

absl::Status Peer::Run(const float* input, float* output) {
  if (input != set_input_ || output != set_output_) {
    const xnn_status status = xnn_setup_deconvolution2d_nhwc_f32(
        op_, in_[0], in_[1], in_[2], adjustment_[0], adjustment_[1], input, output, pool_);
    if (status != xnn_status_success) return Failed("setup_deconvolution2d_nhwc_f32", status);
    set_input_ = input;
    set_output_ = output;
  }
  const xnn_status status = xnn_run_operator(op_, pool_);
  if (status != xnn_status_success) return Failed("run_operator", status);
  return absl::OkStatus();
}

}  // namespace

std::string XnnpackDeconvolution::Describe() {
  if (Initialize() != xnn_status_success) {
    return absl::StrCat("XNNPACK: xnn_initialize failed (status ", Initialize(), ")");
  }
  return "XNNPACK (Debian libxnnpack-dev operator API, pthreadpool threads)";
}

absl::StatusOr<std::unique_ptr<XnnpackDeconvolution>> XnnpackDeconvolution::Create(
    const LayerConfig& config, const LayerWeights& weights, const Shape4& input_shape,
    int threads) {
  if (const xnn_status status = Initialize(); status != xnn_status_success) {
    return Failed("initialize", status);
  }
  auto peer = std::make_unique<Peer>();
  if (absl::Status status = peer->Init(config, weights, input_shape, threads); !status.ok()) {
    return absl::InternalError(
        absl::StrCat("XNNPACK refused ", config.name, ": ", status.message()));
  }
  return std::unique_ptr<XnnpackDeconvolution>(std::move(peer));
}

#endif

}  // namespace tconv::bench
