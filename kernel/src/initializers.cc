// InitializeWeights: the TF 2.x initializers of spec §6 for a Conv2DTranspose kernel
// (kh, kw, filters, in_channels) and bias (filters).
//
// Random numbers come from std::mt19937_64 (its output sequence is fixed by the C++ standard)
// turned into uniform and normal values by our own transforms, because the std::
// distributions differ between standard libraries; so the same (config, in_channels, seed) gives
// the same weights on every platform with the same libm. TF's own streams cannot be reproduced,
// only its distributions.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "keras_objects.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/status_macros.h"

namespace tconv {
namespace {

using internal::Json;

constexpr double kTwoPi = 6.283185307179586476925286766559;
// Standard deviation of a standard normal truncated to [-2, 2]; TF divides by it so that the
// truncated draw keeps the requested variance.
constexpr double kTruncatedStddev = 0.87962566103423978;
// Orthogonal needs a QR of a (max, min)-shaped matrix, ~2*max*min^2 flops. At this bound
// (max*min^2 = 2^33, e.g. a 4x4x512x1024 kernel) it takes ~10 s on one core of our EPYC
// machines; larger kernels must be given weights instead of blocking a create for minutes.
constexpr int64_t kMaxOrthogonalWork = int64_t{1} << 33;

// SplitMix64's finaliser: turns (seed, tensor tag) into well-spread generator seeds.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class RandomStream {
 public:
  explicit RandomStream(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) from the top 53 bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * kInv2Pow53; }

  // Standard normal by Box-Muller; both values of each pair are used.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = static_cast<double>((engine_() >> 11) + 1) * kInv2Pow53;  // (0, 1]
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = kTwoPi * Uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  // Standard normal, re-drawn while more than 2 standard deviations from 0 (TF's rule).
  double TruncatedNormal() {
    double z;
    do {
      z = Normal();
    } while (std::abs(z) > 2.0);
    return z;
  }

 private:
  static constexpr double kInv2Pow53 = 1.0 / 9007199254740992.0;
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

struct Tensor {
  const char* argument;        // "kernel_initializer" or "bias_initializer", for messages
  std::vector<int64_t> shape;  // (kh, kw, F, C) or (F)
  uint64_t tag;                // separates the kernel's and the bias' random streams
};

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

struct Fans {
  double in;
  double out;
};

// Keras' _compute_fans: for (kh, kw, F, C) fan_in = kh*kw*F and fan_out = kh*kw*C.
Fans ComputeFans(const std::vector<int64_t>& shape) {
  const size_t rank = shape.size();
  if (rank == 0) return {1.0, 1.0};
  if (rank == 1) return {double(shape[0]), double(shape[0])};
  double receptive_field = 1.0;
  for (size_t i = 0; i + 2 < rank; ++i) receptive_field *= double(shape[i]);
  return {double(shape[rank - 2]) * receptive_field, double(shape[rank - 1]) * receptive_field};
}

void FillUniform(double min, double max, RandomStream& rng, std::vector<float>& out) {
  const auto top = static_cast<float>(max);
  for (float& value : out) {
    value = static_cast<float>(min + (max - min) * rng.Uniform());
    if (value >= top && min < max) value = std::nextafter(top, static_cast<float>(min));
  }
}

void FillNormal(double mean, double stddev, bool truncated, RandomStream& rng,
                std::vector<float>& out) {
  for (float& value : out) {
    value = static_cast<float>(mean + stddev * (truncated ? rng.TruncatedNormal() : rng.Normal()));
  }
}

// VarianceScaling and the named initializers built on it (Glorot, He, LeCun).
void FillVarianceScaling(double scale, const std::string& mode, const std::string& distribution,
                         Fans fans, RandomStream& rng, std::vector<float>& out) {
  const double n = mode == "fan_in"    ? fans.in
                   : mode == "fan_out" ? fans.out
                                       : (fans.in + fans.out) / 2.0;
  scale /= std::max(1.0, n);
  if (distribution == "uniform") {
    const double limit = std::sqrt(3.0 * scale);
    FillUniform(-limit, limit, rng, out);
  } else if (distribution == "untruncated_normal") {
    FillNormal(0.0, std::sqrt(scale), /*truncated=*/false, rng, out);
  } else {
    FillNormal(0.0, std::sqrt(scale) / kTruncatedStddev, /*truncated=*/true, rng, out);
  }
}

// Four independent sums so that the loop is not bound by the latency of one addition chain
// (the QR of a large kernel is mostly dot products).
double Dot(const double* a, const double* b, int64_t n) {
  double sum[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) sum[k] += a[i + k] * b[i + k];
  }
  for (; i < n; ++i) sum[0] += a[i] * b[i];
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

// Removes from `column` its component along the unit vector `basis`.
void Project(const double* basis, double* column, int64_t m) {
  const double dot = Dot(basis, column, m);
  for (int64_t r = 0; r < m; ++r) column[r] -= dot * basis[r];
}

// Modified Gram-Schmidt on the n columns (each m long, contiguous) of q. Columns are handled in
// blocks that share each pass over an earlier basis vector, which cuts memory traffic ~8x; every
// column still sees the same projections in the same order as in the textbook loop.
void OrthonormalizeColumns(std::vector<double>& q, int64_t m, int64_t n) {
  constexpr int64_t kBlock = 8;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    for (int64_t i = 0; i < start; ++i) {
      for (int64_t j = start; j < end; ++j) Project(&q[i * m], &q[j * m], m);
    }
    for (int64_t j = start; j < end; ++j) {
      for (int64_t i = start; i < j; ++i) Project(&q[i * m], &q[j * m], m);
      double* column = &q[j * m];
      const double inverse = 1.0 / std::sqrt(Dot(column, column, m));
      for (int64_t r = 0; r < m; ++r) column[r] *= inverse;
    }
  }
}

// TF's Orthogonal: QR of a (max(rows, cols), min(rows, cols)) normal matrix, diag(R) made
// positive, transposed when rows < cols, times gain; here by modified Gram-Schmidt, whose
// positive norms are that sign convention.
absl::Status FillOrthogonal(double gain, const Tensor& tensor, RandomStream& rng,
                            std::vector<float>& out) {
  if (tensor.shape.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        tensor.argument, " Orthogonal needs a tensor of rank >= 2; the bias has rank 1"));
  }
  const int64_t cols = tensor.shape.back();
  const int64_t rows = Elements(tensor.shape) / cols;
  const int64_t m = std::max(rows, cols);
  const int64_t n = std::min(rows, cols);
  if (m * n > kMaxOrthogonalWork / n) {
    return absl::InvalidArgumentError(
        absl::StrCat(tensor.argument, " Orthogonal for a ", rows, " x ", cols,
                     " kernel matrix is too large to factorize here; supply the weights instead"));
  }
  out.assign(rows * cols, 0.0f);
  std::vector<double> q(m * n);  // column-major: column j at q[j * m]
  for (double& value : q) value = rng.Normal();
  OrthonormalizeColumns(q, m, n);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double value = rows >= cols ? q[c * m + r] : q[r * m + c];
      out[r * cols + c] = static_cast<float>(gain * value);
    }
  }
  return absl::OkStatus();
}

struct ScalingRule {
  const char* class_name;
  double scale;
  const char* mode;
  const char* distribution;
};

constexpr ScalingRule kScalingRules[] = {
    {"GlorotUniform", 1.0, "fan_avg", "uniform"}, {"GlorotNormal", 1.0, "fan_avg", "normal"},
    {"HeUniform", 2.0, "fan_in", "uniform"},      {"HeNormal", 2.0, "fan_in", "normal"},
    {"LecunUniform", 1.0, "fan_in", "uniform"},   {"LecunNormal", 1.0, "fan_in", "normal"},
};

// `init` is normalised (every field of its class present).
absl::Status Fill(const Json& init, const Tensor& tensor, uint64_t seed, std::vector<float>& out) {
  const auto name = init["class_name"].get<std::string>();
  const Json& config = init["config"];
  if (config.contains("seed") && !config["seed"].is_null()) {
    seed = static_cast<uint64_t>(config["seed"].get<int64_t>());  // the initializer's own seed
  }
  RandomStream rng(Mix(Mix(seed) ^ tensor.tag));
  const auto number = [&config](const char* key) { return config[key].get<double>(); };
  if (name == "Orthogonal") return FillOrthogonal(number("gain"), tensor, rng, out);
  out.assign(Elements(tensor.shape), 0.0f);
  if (name == "Zeros") return absl::OkStatus();
  if (name == "Ones" || name == "Constant") {
    std::fill(out.begin(), out.end(), name == "Ones" ? 1.0f : float(number("value")));
  } else if (name == "RandomUniform") {
    FillUniform(number("minval"), number("maxval"), rng, out);
  } else if (name == "RandomNormal" || name == "TruncatedNormal") {
    FillNormal(number("mean"), number("stddev"), name == "TruncatedNormal", rng, out);
  } else if (name == "VarianceScaling") {
    FillVarianceScaling(number("scale"), config["mode"].get<std::string>(),
                        config["distribution"].get<std::string>(), ComputeFans(tensor.shape), rng,
                        out);
  } else {
    for (const ScalingRule& rule : kScalingRules) {
      if (name == rule.class_name) {
        FillVarianceScaling(rule.scale, rule.mode, rule.distribution, ComputeFans(tensor.shape),
                            rng, out);
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        tensor.argument, " ", name, " cannot initialize this ", tensor.shape.size(), "-D tensor",
        name == "Identity" ? " (Identity is defined for 2-D shapes only)" : ""));
  }
  return absl::OkStatus();
}

// Values beyond float32's range (e.g. Constant(1e39)) would become infinities.
absl::Status CheckFinite(const std::vector<float>& values, const char* argument) {
  for (float value : values) {
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, " produces ", value, ", which is not a finite float32"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LayerWeights> InitializeWeights(const LayerConfig& config, int64_t in_channels,
                                               uint64_t seed) {
  RETURN_IF_ERROR(config.Validate());
  if (in_channels < 1 || in_channels > LayerLimits::kMaxInChannels) {
    return absl::InvalidArgumentError(absl::StrCat("in_channels ", in_channels, " must be in [1, ",
                                                   LayerLimits::kMaxInChannels, "]"));
  }
  const Tensor kernel{"kernel_initializer",
                      {config.kernel_size[0], config.kernel_size[1], config.filters, in_channels},
                      1};
  if (Elements(kernel.shape) > LayerLimits::kMaxKernelElements) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kernel (", config.kernel_size[0], ", ", config.kernel_size[1], ", ", config.filters, ", ",
        in_channels, ") has more than ", LayerLimits::kMaxKernelElements, " elements"));
  }
  ASSIGN_OR_RETURN(
      Json kernel_init,
      internal::ParseKerasObject(config.kernel_initializer, internal::KerasObjectKind::kInitializer,
                                 "kernel_initializer"));
  LayerWeights weights;
  RETURN_IF_ERROR(Fill(kernel_init, kernel, seed, weights.kernel));
  RETURN_IF_ERROR(CheckFinite(weights.kernel, kernel.argument));
  if (config.use_bias) {
    ASSIGN_OR_RETURN(
        Json bias_init,
        internal::ParseKerasObject(config.bias_initializer, internal::KerasObjectKind::kInitializer,
                                   "bias_initializer"));
    RETURN_IF_ERROR(Fill(bias_init, {"bias_initializer", {config.filters}, 2}, seed, weights.bias));
    RETURN_IF_ERROR(CheckFinite(weights.bias, "bias_initializer"));
  }
  return weights;
}

}  // namespace tconv
