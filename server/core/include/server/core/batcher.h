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
#include "absl/types/span.h"
#include "server/core/metrics_observer.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/repository/batching_options.h"

namespace tconv::server {

// Memory the caller already has for a request's output values (the transport's response
// bytes), so the batcher writes them there instead of into InferenceResult::output and the
// caller copying them over. Called at most once per request, on the thread that runs its
// batch, with the number of float values; returns exactly that many, valid until the
// request's callback has run.
using OutputBuffer = std::function<absl::Span<float>(int64_t values)>;

struct InferenceRequest {
  // The input values in the layer's data_format, shape `shape`: owned here (`input`), or
  // borrowed (`input_view`, when its data() is not null) from memory the caller keeps alive and
  // unchanged until the request's callback has run — the request message's raw bytes, so that
  // a large input is not copied once more. Read them with Input().
  std::vector<float> input;
  absl::Span<const float> input_view;
  absl::Span<const float> Input() const {
    return input_view.data() != nullptr ? input_view : absl::MakeConstSpan(input);
  }
  Shape4 shape{};  // batch dimension = number of examples in this request
  absl::Time deadline = absl::InfiniteFuture();
  // Polled before computing: a cancelled request is dropped (answered CANCELLED, not run).
  std::function<bool()> is_cancelled;
  absl::Time enqueued = absl::Now();  // set by the caller when the request arrived
  // The layer version asked for, in decimal; "" = the one served. LayerManager::Infer answers
  // NOT_FOUND for any other; the batcher ignores it.
  std::string version;
  OutputBuffer output_buffer;  // optional: where the answer's values go (see OutputBuffer)
};

struct InferenceResult {
  std::vector<float> output;      // in the layer's data_format, exactly this request's rows
  bool output_in_buffer = false;  // they went to the request's output_buffer; `output` is empty
  Shape4 shape{};
  absl::Duration queue_duration;    // from enqueue to the start of its kernel run
  absl::Duration compute_duration;  // of the kernel run it was part of
  int64_t batch_size = 0;           // examples in that kernel run
  int64_t version = 0;              // the layer version that computed it (LayerManager::Infer)
};

// Called exactly once per submitted request, possibly inline from Submit (immediate refusals,
// and answers of a request that ran on the submitting thread because its queue was idle) or
// from a batch worker thread.
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
    // Runs a request on the submitting thread when its layer has nothing queued or running
    // and batch_timeout is zero, instead of handing it to a worker and its answer back: two
    // thread hand-offs less for a lone request, the common case at low load. Off: every
    // request goes through a worker, so a submitting thread never computes.
    bool inline_when_idle = true;
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
  // When nothing of this layer is queued or running and batch_timeout is zero, the request
  // runs (and `done` is called) on the calling thread before Submit returns; requests that
  // arrive meanwhile queue and are batched as usual.
  // `done` runs without any batcher lock held, so it may Submit again.
  virtual void Submit(InferenceRequest request, InferenceCallback done) = 0;

  virtual const BatchingOptions& options() const = 0;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_BATCHER_H_
