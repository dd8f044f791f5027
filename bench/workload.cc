#include "workload.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "testing/layout.h"

namespace tconv::bench {

int64_t Elements(const Shape4& s) { return s[0] * s[1] * s[2] * s[3]; }

std::vector<Workload> SelectWorkloads(const std::vector<SuiteCase>& suite,
                                      const std::string& cases) {
  std::vector<Workload> workloads;
  for (const SuiteCase& c : suite) {
    const std::vector<std::string> wanted = absl::StrSplit(cases, ',');
    if (std::none_of(wanted.begin(), wanted.end(),
                     [&](const std::string& w) { return absl::StrContains(c.name, w); })) {
      continue;
    }
    for (int64_t batch : c.batches) {
      workloads.emplace_back();
      workloads.back().c = c;
      workloads.back().batch = batch;
    }
  }
  return workloads;
}

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

void PrepareReferences(std::vector<Workload>& workloads) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < tconv::AvailableCpus(); ++i) {
    workers.emplace_back([&] {
      for (size_t w = next++; w < workloads.size(); w = next++) PrepareReference(workloads[w]);
    });
  }
  for (std::thread& worker : workers) worker.join();
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
