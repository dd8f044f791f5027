#include "workload.h"

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "testing/layout.h"

namespace tconv::bench {

int64_t Elements(const Shape4& s) { return s[0] * s[1] * s[2] * s[3]; }

const ComputePool& Pool(int threads) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  static auto* pools = new std::map<int, std::unique_ptr<ComputePool>>();
  auto& pool = (*pools)[threads];
  if (!pool) pool = ComputePool::Create({threads}).value();
  return *pool;
}

namespace {

// Seeded data scaled like Glorot so outputs are O(1) and rounding stays far inside tolerance.
void Prepare(Workload& w) {
  std::mt19937_64 rng(std::hash<std::string>()(w.c.name) + w.batch);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  const Pair& k = w.c.config.kernel_size;
  const float scale = 1.0f / std::sqrt(float(k[0] * k[1] * w.c.in_c));
  w.weights.kernel.resize(k[0] * k[1] * w.c.config.filters * w.c.in_c);
  for (float& v : w.weights.kernel) v = scale * unit(rng);
  if (w.c.config.use_bias) {
    w.weights.bias.resize(w.c.config.filters);
    for (float& v : w.weights.bias) v = 0.5f * unit(rng);
  }
  w.input.resize(w.batch * w.c.in_h * w.c.in_w * w.c.in_c);
  for (float& v : w.input) v = unit(rng);
  w.nchw = testing::TransposeExamples(w.input, w.batch, w.c.in_h * w.c.in_w, w.c.in_c);
  w.out = {w.batch, w.c.config.OutputLength(w.c.in_h, 0), w.c.config.OutputLength(w.c.in_w, 1),
           w.c.config.filters};
  w.row.name = w.c.name;
  w.row.batch = w.batch;
  w.row.flops = double(w.c.flops_per_example) * double(w.batch);
}

}  // namespace

void PrepareReference(Workload& w) {
  Prepare(w);
  auto layer = Conv2DTranspose::Create(w.c.config, w.c.in_c, w.weights).value();
  w.want.resize(Elements(w.out));
  const absl::Status status =
      layer->Run(w.input, {w.batch, w.c.in_h, w.c.in_w, w.c.in_c}, absl::MakeSpan(w.want), Pool(1),
                 Implementation::kReference);
  if (!status.ok()) w.error = status.ToString();
}

std::string Check(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double excess = std::fabs(double(got[i]) - want[i]) / (1e-4 + 1e-4 * std::fabs(want[i]));
    if (!(excess <= worst)) {  // also catches NaN
      worst = std::isnan(excess) ? INFINITY : excess;
      at = i;
    }
  }
  if (worst <= 1) return "";
  return absl::StrCat("element ", at, " is ", got[at], ", reference ", want[at]);
}

}  // namespace tconv::bench
