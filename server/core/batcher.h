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
// config may override them. Each default documents the measurement it comes from.
struct BatchingOptions {
  int64_t max_batch_size = 32;                          // examples per kernel run
  absl::Duration batch_timeout = absl::Microseconds(0);  // wait of a batch's first request
  int64_t max_queue_size = 1024;                         // examples waiting, per layer

  // INVALID_ARGUMENT naming the field for sizes < 1, absurd sizes or a negative timeout.
  absl::Status Validate() const;
};

struct InferenceRequest {
  std::vector<float> input;  // in the layer's data_format, shape `shape`
  Shape4 shape{};            // batch dimension = number of examples in this request
  absl::Time deadline = absl::InfiniteFuture();
  // Polled before computing: a cancelled request is dropped (answered CANCELLED, not run).
  std::function<bool()> is_cancelled;
  absl::Time enqueued = absl::Now();  // set by the caller when the request arrived
};

struct InferenceResult {
  std::vector<float> output;  // in the layer's data_format, exactly this request's rows
  Shape4 shape{};
  absl::Duration queue_duration;    // from enqueue to the start of its kernel run
  absl::Duration compute_duration;  // of the kernel run it was part of
  int64_t batch_size = 0;           // examples in that kernel run
};

// Called exactly once per submitted request, possibly inline from Submit (immediate refusals)
// or from a batch worker thread.
using InferenceCallback = absl::AnyInvocable<void(absl::StatusOr<InferenceResult>) &&>;

// Shared by all batchers of a server: the worker threads that run batches, and the compute
// pool they run on. Bounds the server's total compute concurrency.
class BatchExecutor {
 public:
  struct Options {
    int threads = 0;  // kernel threads (ComputePool); 0 = AvailableCpus()
  };
  static absl::StatusOr<std::shared_ptr<BatchExecutor>> Create(Options options);
  virtual ~BatchExecutor() = default;
  virtual const ComputePool& pool() const = 0;
};

class Batcher {
 public:
  // `layer_name` labels metrics; `observer` may be null and must outlive the batcher.
  static absl::StatusOr<std::unique_ptr<Batcher>> Create(
      BatchingOptions options, std::string layer_name,
      std::shared_ptr<const Conv2DTranspose> layer, std::shared_ptr<BatchExecutor> executor,
      MetricsObserver* observer);

  // Blocks until every accepted request has been answered (a replaced or deleted layer's
  // in-flight requests still complete).
  virtual ~Batcher() = default;

  // Validates the request's shape against the layer (INVALID_ARGUMENT), refuses it with
  // RESOURCE_EXHAUSTED when the queue is full, DEADLINE_EXCEEDED when its deadline passes
  // before it runs; otherwise computes it, merged with other requests of the same H/W.
  virtual void Submit(InferenceRequest request, InferenceCallback done) = 0;

  virtual const BatchingOptions& options() const = 0;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_BATCHER_H_
