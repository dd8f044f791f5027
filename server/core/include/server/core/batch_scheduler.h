// BatchScheduler: the BatchExecutor implementation, internal to server/core (modelled on
// TensorFlow Serving's SharedBatchScheduler). One mutex guards every registered BatchQueue;
// worker threads take whichever batch of any queue is ready first and run it on the pool.
#ifndef TCONV_SERVER_CORE_BATCH_SCHEDULER_H_
#define TCONV_SERVER_CORE_BATCH_SCHEDULER_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/batch_queue.h"
#include "server/core/batcher.h"
#include "tconv/kernel/compute_pool.h"

namespace tconv::server::internal {

class BatchScheduler final : public BatchExecutor {
 public:
  // Starts one worker thread per pool thread (see batcher.cc for why). `inline_when_idle`:
  // BatchExecutor::Options.
  static absl::StatusOr<std::shared_ptr<BatchScheduler>> Create(int threads, bool inline_when_idle);
  // Called when no Batcher is left (each holds a reference). May run on one of its own worker
  // threads (a callback that dropped the last reference): that thread is detached, not joined.
  ~BatchScheduler() override;

  const ComputePool& pool() const override;
  int workers() const { return static_cast<int>(workers_.size()); }

  // `queue` must stay alive until Drain(queue) returns.
  void Register(BatchQueue* queue);
  // Queues the request, or answers it at once (inline) when the queue refuses it. Runs it on
  // the calling thread when allowed and the queue is idle (BatchQueue::CanRunInline).
  void Enqueue(BatchQueue* queue, QueuedRequest request);
  // Closes `queue`, runs what it still holds (on this thread too, so it never waits for a
  // busy worker), waits until each of its requests has been answered and unregisters it.
  void Drain(BatchQueue* queue);

  struct State;  // shared with the worker threads, which may outlive this object

 private:
  BatchScheduler(std::shared_ptr<State> state, int workers);

  std::shared_ptr<State> state_;
  std::vector<std::thread> workers_;
};

}  // namespace tconv::server::internal

#endif  // TCONV_SERVER_CORE_BATCH_SCHEDULER_H_
