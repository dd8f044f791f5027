// Helpers of the batcher tests (batcher_test.cc, batcher_setup_test.cc,
// batcher_buffer_and_inline_test.cc): a real layer, seeded requests, a recording
// MetricsObserver, the check "these are exactly the rows the layer gives this request alone",
// and BatcherTest, the fixture of the request tests. The Gate that holds batch workers busy and
// the Event are testing/event.h's. Every wait is bounded (kWait).
#ifndef TCONV_TESTS_SERVER_CORE_BATCHER_TEST_UTIL_H_
#define TCONV_TESTS_SERVER_CORE_BATCHER_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/batcher.h"
#include "server/core/metrics_observer.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"
#include "testing/event.h"
#include "testing/recording_observer.h"

namespace tconv::server {

using ::tconv::testing::Event;
using ::tconv::testing::Gate;
using ::tconv::testing::kWait;

inline constexpr int64_t kInChannels = 3;
inline constexpr std::string_view kChannelsLastLayer =
    R"({"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
        "activation": "relu", "use_bias": true})";
inline constexpr std::string_view kChannelsFirstLayer =
    R"({"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
        "data_format": "channels_first", "activation": "relu", "use_bias": true})";

// Every request goes through a worker (no inline runs): the tests hold workers busy with
// blockers submitted from the test's thread, which must not compute them itself.
// The inline_when_idle tests (batcher_buffer_and_inline_test.cc) turn it back on.
inline BatchExecutor::Options ExecutorOptions(int threads) {
  BatchExecutor::Options options;
  options.threads = threads;
  options.inline_when_idle = false;
  return options;
}

// Initializer weights plus a random bias, so that every output depends on it.
inline std::shared_ptr<const Conv2DTranspose> MakeLayer(std::string_view json,
                                                        int64_t in_channels) {
  LayerConfig config = LayerConfig::FromJson(json).value();
  LayerWeights weights = InitializeWeights(config, in_channels, /*seed=*/42).value();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  for (float& b : weights.bias) b = uniform(rng);
  return Conv2DTranspose::Create(config, in_channels, std::move(weights)).value();
}

inline InferenceRequest RandomRequest(const Shape4& shape, uint64_t seed) {
  InferenceRequest request;
  request.shape = shape;
  const int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  request.input.resize(n > 0 ? n : 0);
  for (float& v : request.input) v = uniform(rng);
  return request;
}

struct Answer {
  bool Wait() { return done.WaitForNotification(); }
  Event done;
  absl::StatusOr<InferenceResult> result = absl::UnknownError("not answered");
};
using AnswerPtr = std::shared_ptr<Answer>;

// Submits a copy of `request`; the answer stays valid however the test ends.
inline AnswerPtr Submit(Batcher& batcher, InferenceRequest request) {
  auto answer = std::make_shared<Answer>();
  batcher.Submit(std::move(request), [answer](absl::StatusOr<InferenceResult> result) {
    ASSERT_FALSE(answer->done.HasBeenNotified()) << "answered twice";
    answer->result = std::move(result);
    answer->done.Notify();
  });
  return answer;
}

// What the layer gives `request` run on its own (the oracle of every test here).
struct Expected {
  Shape4 shape{};
  std::vector<float> output;
};
inline Expected RunAlone(const Conv2DTranspose& layer, const InferenceRequest& request) {
  Expected expected;
  expected.shape = layer.OutputShape(request.shape).value();
  const Shape4& shape = expected.shape;
  expected.output.resize(shape[0] * shape[1] * shape[2] * shape[3]);
  EXPECT_TRUE(layer
                  .Run(request.input, request.shape, absl::MakeSpan(expected.output),
                       ComputePool::Default())
                  .ok());
  return expected;
}

// The answer is OK and bit-identical to `expected`; -1 = any batch size.
inline void ExpectRows(Answer& answer, const Expected& expected, int64_t batch_size = -1) {
  ASSERT_TRUE(answer.Wait()) << "no answer within " << kWait.count() << " s";
  ASSERT_TRUE(answer.result.ok()) << answer.result.status();
  EXPECT_EQ(answer.result->shape, expected.shape);
  ASSERT_EQ(answer.result->output.size(), expected.output.size());
  EXPECT_EQ(std::memcmp(answer.result->output.data(), expected.output.data(),
                        expected.output.size() * sizeof(float)),
            0)
      << "rows differ from running the request alone";
  if (batch_size >= 0) {
    EXPECT_EQ(answer.result->batch_size, batch_size);
  }
}

inline void ExpectRowsOfAlone(Answer& answer, const Conv2DTranspose& layer,
                              const InferenceRequest& request, int64_t batch_size = -1) {
  ExpectRows(answer, RunAlone(layer, request), batch_size);
}

using ::tconv::testing::BatchRecord;
using ::tconv::testing::RecordingObserver;

// The fixture of the tests that send requests through a batcher, in two files by subject
// (batcher_test.cc, batcher_buffer_and_inline_test.cc). GetParam() is the executor's threads,
// and so its number of batch workers; each file instantiates it with ExecutorThreadsName.
class BatcherTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    executor_ = BatchExecutor::Create(ExecutorOptions(GetParam())).value();
    layer_ = MakeLayer(kChannelsLastLayer, kInChannels);
  }
  void TearDown() override {
    for (const std::string& layer : observer_.BatchLayers()) EXPECT_EQ(layer, "gen");
  }

  std::unique_ptr<Batcher> MakeBatcher(int64_t max_batch_size, absl::Duration timeout,
                                       int64_t max_queue_size = 1024) {
    BatchingOptions options;
    options.max_batch_size = max_batch_size;
    options.batch_timeout = timeout;
    options.max_queue_size = max_queue_size;
    return Batcher::Create(options, "gen", layer_, executor_, &observer_).value();
  }

  // Submits one blocker per worker, each taken by a different worker before the next is sent.
  // A blocker of max_batch_size examples is ready at once whatever the batch_timeout.
  std::vector<AnswerPtr> OccupyWorkers(Batcher& batcher, Gate& gate, int64_t examples = 1) {
    std::vector<AnswerPtr> blockers;
    for (int i = 0; i < GetParam(); ++i) {
      InferenceRequest request = RandomRequest({examples, 4, 4, kInChannels}, 900 + i);
      request.is_cancelled = gate.Blocker();
      blockers.push_back(Submit(batcher, request));
      EXPECT_TRUE(gate.WaitEntered(i + 1)) << "worker " << i << " never took its blocker";
    }
    return blockers;
  }

  std::shared_ptr<BatchExecutor> executor_;
  std::shared_ptr<const Conv2DTranspose> layer_;
  RecordingObserver observer_;
};

// Names the instances of BatcherTest by their executor's threads ("Threads2").
inline std::string ExecutorThreadsName(const ::testing::TestParamInfo<int>& param_info) {
  return absl::StrCat("Threads", param_info.param);
}

}  // namespace tconv::server

#endif  // TCONV_TESTS_SERVER_CORE_BATCHER_TEST_UTIL_H_
