// Where BatchingOptions' defaults come from (server/core/batcher.h):
//   BM_Kernel   examples/s of one kernel run by batch size and pool threads: how much a merged
//               run gains over single-example runs, and where the gain stops (max_batch_size).
//   BM_Batcher  the in-process batcher under closed-loop load (C submitters, each waiting for
//               its answer before sending the next one-example request): throughput, mean
//               batch size and median latency for batch_timeout 0 vs a window, and batching
//               off (max_batch_size 1). No network: this is the core's share only.
// Layers: the cvae_* and dcgan_* cases of bench/suite.json (TensorFlow tutorials).
//   batching_bench --benchmark_filter=BM_Kernel --benchmark_min_time=0.2
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "server/core/batcher.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::server {
namespace {

struct Case {
  const char* name;
  int64_t h, w, c;  // one example's input, channels_last
  const char* config;
};

// bench/suite.json, cases cvae_* and dcgan_*.
constexpr Case kCases[] = {
    {"cvae_d1_7x7x32", 7, 7, 32,
     R"({"filters":64,"kernel_size":[3,3],"strides":[2,2],"padding":"same","activation":"relu"})"},
    {"cvae_d2_14x14x64", 14, 14, 64,
     R"({"filters":32,"kernel_size":[3,3],"strides":[2,2],"padding":"same","activation":"relu"})"},
    {"cvae_d3_28x28x32", 28, 28, 32,
     R"({"filters":1,"kernel_size":[3,3],"strides":[1,1],"padding":"same"})"},
    {"dcgan_g1_7x7x256", 7, 7, 256,
     R"({"filters":128,"kernel_size":[5,5],"strides":[1,1],"padding":"same","use_bias":false})"},
    {"dcgan_g2_7x7x128", 7, 7, 128,
     R"({"filters":64,"kernel_size":[5,5],"strides":[2,2],"padding":"same","use_bias":false})"},
    {"dcgan_g3_14x14x64", 14, 14, 64,
     R"({"filters":1,"kernel_size":[5,5],"strides":[2,2],"padding":"same","use_bias":false,
         "activation":"tanh"})"},
};
constexpr int kNumCases = sizeof(kCases) / sizeof(kCases[0]);

std::shared_ptr<const Conv2DTranspose> Layer(int index) {
  static auto* layers = new std::map<int, std::shared_ptr<const Conv2DTranspose>>();
  auto& layer = (*layers)[index];
  if (layer == nullptr) {
    const Case& c = kCases[index];
    LayerConfig config = LayerConfig::FromJson(c.config).value();
    layer = Conv2DTranspose::Create(config, c.c, InitializeWeights(config, c.c, 1).value()).value();
  }
  return layer;
}

const ComputePool& Pool(int threads) {
  static auto* pools = new std::map<int, std::unique_ptr<ComputePool>>();
  auto& pool = (*pools)[threads];
  if (pool == nullptr) pool = ComputePool::Create({threads}).value();
  return *pool;
}

std::vector<float> RandomInput(int64_t n) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

// Args: case, batch, threads.
void BM_Kernel(benchmark::State& state) {
  const Case& c = kCases[state.range(0)];
  const int64_t batch = state.range(1);
  const auto layer = Layer(static_cast<int>(state.range(0)));
  const Shape4 in_shape = {batch, c.h, c.w, c.c};
  const Shape4 out_shape = layer->OutputShape(in_shape).value();
  const std::vector<float> input = RandomInput(batch * c.h * c.w * c.c);
  std::vector<float> output(out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]);
  const ComputePool& pool = Pool(static_cast<int>(state.range(2)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(layer->Run(input, in_shape, absl::MakeSpan(output), pool));
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(c.name);
}

void KernelArgs(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < kNumCases; ++i) {
    for (int threads : {1, 2}) {
      for (int batch : {1, 2, 4, 8, 16, 32, 64, 128}) b->Args({i, batch, threads});
    }
  }
}
BENCHMARK(BM_Kernel)->Apply(KernelArgs)->ArgNames({"case", "batch", "threads"});

// Args: case, concurrency, batch_timeout in µs, max_batch_size. Executor threads = 2.
void BM_Batcher(benchmark::State& state) {
  const Case& c = kCases[state.range(0)];
  const int concurrency = static_cast<int>(state.range(1));
  BatchingOptions options;
  options.batch_timeout = absl::Microseconds(state.range(2));
  options.max_batch_size = state.range(3);
  auto executor = BatchExecutor::Create({2}).value();
  auto batcher =
      Batcher::Create(options, c.name, Layer(static_cast<int>(state.range(0))), executor, nullptr)
          .value();
  const std::vector<float> input = RandomInput(c.h * c.w * c.c);
  constexpr int kRequestsPerIteration = 256;
  absl::Mutex mu;
  std::vector<double> latencies_us;
  int64_t examples_in_runs = 0;
  for (auto _ : state) {
    std::vector<std::thread> submitters;
    for (int t = 0; t < concurrency; ++t) {
      submitters.emplace_back([&, t] {
        for (int i = t; i < kRequestsPerIteration; i += concurrency) {
          InferenceRequest request;
          request.input = input;
          request.shape = {1, c.h, c.w, c.c};
          const absl::Time start = absl::Now();
          absl::Notification done;
          int64_t batch_size = 0;
          batcher->Submit(std::move(request), [&](absl::StatusOr<InferenceResult> result) {
            batch_size = result.ok() ? result->batch_size : 0;
            done.Notify();
          });
          done.WaitForNotification();
          absl::MutexLock lock(&mu);
          latencies_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
          examples_in_runs += batch_size;
        }
      });
    }
    for (std::thread& submitter : submitters) submitter.join();
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  state.SetItemsProcessed(state.iterations() * kRequestsPerIteration);
  state.counters["mean_batch"] = static_cast<double>(examples_in_runs) / latencies_us.size();
  state.counters["p50_us"] = latencies_us[latencies_us.size() / 2];
  state.counters["p99_us"] = latencies_us[latencies_us.size() * 99 / 100];
  state.SetLabel(c.name);
}

void BatcherArgs(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < kNumCases; ++i) {
    for (int concurrency : {1, 8, 32}) {
      b->Args({i, concurrency, 0, 1});  // batching off
      for (int timeout_us : {0, 200, 1000}) b->Args({i, concurrency, timeout_us, 32});
      b->Args({i, concurrency, 0, 8});
      b->Args({i, concurrency, 0, 128});
    }
  }
}
BENCHMARK(BM_Batcher)
    ->Apply(BatcherArgs)
    ->ArgNames({"case", "conc", "timeout_us", "max_batch"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tconv::server

BENCHMARK_MAIN();
