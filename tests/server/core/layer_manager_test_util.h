// Helpers of the LayerManager tests (TempDir and RecordingObserver are testing/'s): specs,
// a synchronous Infer, and an independent FNV-1a and expected output. Every wait is bounded.
#ifndef TCONV_TESTS_SERVER_CORE_LAYER_MANAGER_TEST_UTIL_H_
#define TCONV_TESTS_SERVER_CORE_LAYER_MANAGER_TEST_UTIL_H_

#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/layer_manager.h"
#include "tconv/kernel/compute_pool.h"
#include "testing/recording_observer.h"
#include "testing/temp_dir.h"

namespace tconv::server::testing {

inline constexpr char kConfig[] =
    R"({"name": "up", "filters": 4, "kernel_size": [3, 3], "strides": [2, 2],
        "padding": "same", "activation": "relu"})";

using ::tconv::testing::RecordingObserver;
using ::tconv::testing::TempDir;

// Independent FNV-1a 64 (checked against the published test vector in the tests).
inline uint64_t Fnv1a(const std::string& bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}
inline uint64_t WeightsFnv(const LayerWeights& weights) {
  std::string bytes(reinterpret_cast<const char*>(weights.kernel.data()),
                    weights.kernel.size() * 4);
  bytes.append(reinterpret_cast<const char*>(weights.bias.data()), weights.bias.size() * 4);
  return Fnv1a(bytes);
}

inline LayerSpec SeededSpec(const std::string& name, uint64_t seed, bool replace = false) {
  LayerSpec spec;
  spec.name = name;
  spec.config_json = kConfig;
  spec.in_channels = 3;
  spec.seed = seed;
  spec.replace = replace;
  return spec;
}

inline std::vector<float> RandomInput(size_t count, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(random);
  return values;
}

inline InferenceRequest Request(uint64_t seed) {
  InferenceRequest request;
  request.shape = {2, 5, 4, 3};
  request.input = RandomInput(2 * 5 * 4 * 3, seed);
  return request;
}

// Infer, waited for (bounded).
inline absl::StatusOr<InferenceResult> InferSync(LayerManager& manager, const std::string& name,
                                                 InferenceRequest request) {
  auto answer = std::make_shared<std::promise<absl::StatusOr<InferenceResult>>>();
  std::future<absl::StatusOr<InferenceResult>> result = answer->get_future();
  manager.Infer(name, std::move(request), [answer](absl::StatusOr<InferenceResult> value) {
    answer->set_value(std::move(value));
  });
  if (result.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return absl::DeadlineExceededError("test: no answer within 30 s");
  }
  return result.get();
}

// What `layer` computes for `request` on its own (batch invariance makes this the exact answer
// the batcher must give).
inline std::vector<float> Expected(const Conv2DTranspose& layer, const InferenceRequest& request) {
  const Shape4 out = layer.OutputShape(request.shape).value();
  std::vector<float> output(out[0] * out[1] * out[2] * out[3]);
  EXPECT_TRUE(
      layer.Run(request.input, request.shape, absl::MakeSpan(output), ComputePool::Default()).ok());
  return output;
}

// `inline_when_idle` (BatchExecutor::Options): off for tests that hold a request's batch with
// a blocking is_cancelled, which would otherwise block the submitting test thread.
inline std::unique_ptr<LayerManager> MakeManager(const std::string& dir,
                                                 MetricsObserver* observer = nullptr,
                                                 bool inline_when_idle = true) {
  LayerManager::Options options;
  options.repository_dir = dir;
  BatchExecutor::Options executor;
  executor.threads = 2;
  executor.inline_when_idle = inline_when_idle;
  options.executor = BatchExecutor::Create(executor).value();
  options.observer = observer;
  auto manager = LayerManager::Create(std::move(options));
  EXPECT_TRUE(manager.ok()) << manager.status();
  return manager.ok() ? *std::move(manager) : nullptr;
}

}  // namespace tconv::server::testing

#endif  // TCONV_TESTS_SERVER_CORE_LAYER_MANAGER_TEST_UTIL_H_
