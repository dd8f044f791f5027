// Batcher: merges concurrent inference requests for one layer instance into kernel runs
// (modelled on TensorFlow Serving's batch scheduler and Triton's dynamic batcher).
// No gRPC here: requests come in as core types, answers go out through a callback.
#ifndef TCONV_SERVER_CORE_BATCHER_H_
#define TCONV_SERVER_CORE_BATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/metrics_observer.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::server {

// Per-layer batching settings; server-wide defaults come from flags, a layer's repository
// config may override them. The defaults come from bench/batching/ (README.md has the run; kernel
// examples/s by batch size, and the in-process batcher under closed-loop load with 1, 8 and
// 32 submitters) on the cvae_* and dcgan_* layers of bench/suite.json, on the 2-core
// development machine (Intel Xeon with AVX-512, 2 executor threads; the machine was shared, so only
// differences well above the noise were used):
struct BatchingOptions {
  // Examples per kernel run. On one thread these layers run no faster per example in batches
  // (0.7-1.05x the batch-1 rate), so merging pays by giving the second thread work (a single
  // small example stays below the kernel's parallel grain) and by saving per-run overhead: with 2
  // threads dcgan_g1/g2 reach 1.7-1.8x their batch-1 rate at 32 and gain nothing beyond; the tiny
  // cvae layers gain ~1.2x from 32 to 128 but every request of such a batch waits for all of it,
  // and a batch of 32 already takes ~9 ms on dcgan_g1. With 32 submitters and 2 workers batches
  // average ~15 examples, so 32 rarely caps them. A larger request is run alone (never split), so
  // no caller is refused for its size here.
  int64_t max_batch_size = 32;
  // How long the first request of a batch waits for company. 0: while every worker is busy the
  // queue fills by itself, and the next free worker takes all of it (mean batch ~3.4-4.7
  // examples at 8 submitters, ~14-16 at 32, with no window at all). A window only adds its
  // length to every request when load is light: 1 ms raised cvae_d1's median latency at 1
  // submitter from 61 us to 1.2 ms, and at 8 and 32 submitters it made batches larger
  // (8 / 22-30) without a throughput gain above the noise.
  absl::Duration batch_timeout = absl::ZeroDuration();
  // Examples waiting (not yet running), per layer; beyond it requests get RESOURCE_EXHAUSTED
  // at once. The slowest of these layers (dcgan_g1, ~3.6k examples/s on 2 threads) drains
  // 1024 examples in ~0.3 s, the cvae layers in ~35 ms: a full queue means waits that
  // typical deadlines still allow, and anything longer is overload better shed than queued.
  // Memory held is at most max_queue_size input examples (dcgan_g1: 50 MB); layers with
  // large inputs (e.g. 64x64x256 = 4 MiB an example) should set a smaller value.
  int64_t max_queue_size = 1024;

  // INVALID_ARGUMENT naming the field and value unless max_batch_size is in [1, 4096],
  // batch_timeout in [0, 10 s] and max_queue_size in [1, 1e6].
  absl::Status Validate() const;
};

struct InferenceRequest {
  std::vector<float> input;  // in the layer's data_format, shape `shape`
  Shape4 shape{};            // batch dimension = number of examples in this request
  absl::Time deadline = absl::InfiniteFuture();
  // Polled before computing: a cancelled request is dropped (answered CANCELLED, not run).
  std::function<bool()> is_cancelled;
  absl::Time enqueued = absl::Now();  // set by the caller when the request arrived
  // The layer version asked for, in decimal; "" = the one served. LayerManager::Infer answers
  // NOT_FOUND for any other; the batcher ignores it.
  std::string version;
};

struct InferenceResult {
  std::vector<float> output;  // in the layer's data_format, exactly this request's rows
  Shape4 shape{};
  absl::Duration queue_duration;    // from enqueue to the start of its kernel run
  absl::Duration compute_duration;  // of the kernel run it was part of
  int64_t batch_size = 0;           // examples in that kernel run
  int64_t version = 0;              // the layer version that computed it (LayerManager::Infer)
};

// Called exactly once per submitted request, possibly inline from Submit (immediate refusals)
// or from a batch worker thread.
using InferenceCallback = absl::AnyInvocable<void(absl::StatusOr<InferenceResult>) &&>;

// Shared by all batchers of a server: the worker threads that run batches, and the compute
// pool they run on. Bounds the server's total compute concurrency.
class BatchExecutor {
 public:
  struct Options {
    // Kernel threads (ComputePool); 0 = AvailableCpus(). Also the number of batch worker
    // threads: a small batch may run on one thread, so one worker per pool thread keeps every
    // core busy, while the pool's arena caps the threads computing at once at `threads`.
    int threads = 0;
  };
  static absl::StatusOr<std::shared_ptr<BatchExecutor>> Create(Options options);
  virtual ~BatchExecutor() = default;
  virtual const ComputePool& pool() const = 0;
};

class Batcher {
 public:
  // `layer_name` labels metrics; `observer` may be null and must outlive the batcher. The
  // observer's OnQueueDepth is called under the batcher's lock (so depths arrive in order):
  // it must not call into the batcher.
  static absl::StatusOr<std::unique_ptr<Batcher>> Create(
      BatchingOptions options, std::string layer_name, std::shared_ptr<const Conv2DTranspose> layer,
      const std::shared_ptr<BatchExecutor>& executor, MetricsObserver* observer);

  // Blocks until every accepted request has been answered (a replaced or deleted layer's
  // in-flight requests still complete): what is still queued runs at once, partly on the
  // calling thread. May run on a batch worker (a callback releasing the last reference).
  virtual ~Batcher() = default;

  // Validates the request's shape against the layer (INVALID_ARGUMENT), refuses it with
  // RESOURCE_EXHAUSTED when the queue is full, DEADLINE_EXCEEDED when its deadline passes
  // before it runs; otherwise computes it, merged with other requests of the same H/W.
  // CANCELLED (not computed) when is_cancelled() is true as its batch starts. Thread-safe.
  // `done` runs without any batcher lock held, so it may Submit again.
  virtual void Submit(InferenceRequest request, InferenceCallback done) = 0;

  virtual const BatchingOptions& options() const = 0;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_BATCHER_H_
