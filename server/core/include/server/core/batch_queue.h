// BatchQueue: the waiting room of one Batcher, internal to server/core. Requests are kept per
// input shape (same H/W, hence same per-example size) in arrival order; a batch is a prefix of
// one such sub-queue, so requests are never reordered and only equal shapes are merged.
#ifndef TCONV_SERVER_CORE_BATCH_QUEUE_H_
#define TCONV_SERVER_CORE_BATCH_QUEUE_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/core/batcher.h"
#include "server/core/metrics_observer.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::server::internal {

// One accepted request: validated, counted as queued until taken, then in flight until answered.
struct QueuedRequest {
  InferenceRequest request;
  InferenceCallback done;
  Shape4 output_shape{};
  absl::Time accepted;  // when the batcher queued it; batch_timeout counts from here
};

class BatchQueue;

// Requests of one queue and one input shape, in arrival order: one kernel run.
struct Batch {
  BatchQueue* queue = nullptr;
  std::vector<QueuedRequest> requests;
};

// Not thread-safe: every method except Run() is called under the scheduler's mutex. Run() reads
// only members that never change after construction.
class BatchQueue {
 public:
  // `observer` may be null.
  BatchQueue(BatchingOptions options, std::string layer_name,
             std::shared_ptr<const Conv2DTranspose> layer, MetricsObserver* observer);

  const BatchingOptions& options() const { return options_; }
  const Conv2DTranspose& layer() const { return *layer_; }
  const std::string& name() const { return name_; }

  // UNAVAILABLE once closed, RESOURCE_EXHAUSTED when `examples` more would exceed
  // max_queue_size (also for a request larger than the whole queue).
  absl::Status CheckAdmission(int64_t examples) const;
  // Queues an admitted request; it counts as in flight until Finished().
  void Push(QueuedRequest request);
  // True when an admitted request may run at once on the submitting thread instead of going
  // through a worker: nothing of this queue waits or runs, so there is nothing to merge it
  // with, and batch_timeout is zero, so it would not wait for company either. Saves the two
  // thread hand-offs (submitter -> worker -> answer) that dominate a lone small request.
  bool CanRunInline() const {
    return !closed_ && in_flight_ == 0 && options_.batch_timeout <= absl::ZeroDuration();
  }
  // Counts an admitted request that runs inline as in flight until Finished(), so that
  // requests arriving meanwhile queue (and are batched) and Drain waits for it.
  void StartInline() { ++in_flight_; }

  // The earliest time one of its batches is (or becomes) ready to run: the first request's
  // arrival plus batch_timeout, or that arrival itself once the batch is full or the queue
  // closed. InfiniteFuture when nothing waits.
  absl::Time ReadyTime() const;
  // Removes the batch that is ready first (ReadyTime() must not be InfiniteFuture): the
  // longest prefix of its sub-queue with at most BatchLimit() examples, or its first request
  // alone when that one is larger (big requests run alone, never split). Requests whose
  // deadline is past at `now` come along to be answered but take no room.
  Batch TakeBatch(absl::Time now);

  // Refuses new requests from now on and makes everything queued ready at once.
  void Close();
  int64_t in_flight() const { return in_flight_; }
  // `requests` of a taken batch have been answered.
  void Finished(int64_t requests) { in_flight_ -= requests; }

  // Answers every request of `batch` exactly once: DEADLINE_EXCEEDED if its deadline passed,
  // CANCELLED if is_cancelled(), otherwise its own rows of one kernel run over the rest.
  // Leaves the (called) callbacks in `batch` so that the caller destroys them after
  // Finished(). Needs no lock; safe to call concurrently.
  void Run(Batch& batch, const ComputePool& pool) const;

 private:
  using ShapeKey = std::array<int64_t, 3>;  // the input shape without its batch dimension
  struct SubQueue {
    std::deque<QueuedRequest> requests;
    int64_t examples = 0;
  };

  absl::Time ReadyTime(const SubQueue& sub) const;
  // max_batch_size, or less where a merged run would exceed LayerLimits::kMaxTensorElements
  // (each request passed OutputShape alone; the merged tensor must pass it too).
  int64_t BatchLimit(const SubQueue& sub) const;
  // Answers the expired and cancelled requests of `batch`; returns the others.
  std::vector<QueuedRequest*> AnswerDropped(Batch& batch, absl::Time now) const;
  // Reports the run and hands every live request its own rows of `output` (copied into its
  // output_buffer when it has one; a lone request with one has them there already, and one
  // without gets `lone_output`, which holds `output`).
  void Answer(const std::vector<QueuedRequest*>& live, absl::Time start, absl::Duration compute,
              int64_t examples, absl::Span<const float> output,
              std::vector<float> lone_output) const;
  void ReportDepth() const;

  const BatchingOptions options_;
  const std::string name_;
  const std::shared_ptr<const Conv2DTranspose> layer_;
  MetricsObserver* const observer_;

  std::map<ShapeKey, SubQueue> by_shape_;  // no empty sub-queues
  int64_t queued_examples_ = 0;
  int64_t in_flight_ = 0;  // accepted requests not yet answered
  bool closed_ = false;
};

}  // namespace tconv::server::internal

#endif  // TCONV_SERVER_CORE_BATCH_QUEUE_H_
