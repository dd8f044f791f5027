#include "server/core/batch_scheduler.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server::internal {

struct BatchScheduler::State {
  State(std::unique_ptr<ComputePool> compute_pool, bool inline_idle)
      : pool(std::move(compute_pool)), inline_when_idle(inline_idle) {}

  // The queue whose batch is ready first, or null when none holds anything. Needs `mu`.
  BatchQueue* FirstReady(absl::Time* ready) const {
    BatchQueue* first = nullptr;
    *ready = absl::InfiniteFuture();
    for (BatchQueue* queue : queues) {
      const absl::Time t = queue->ReadyTime();
      if (t < *ready) {
        *ready = t;
        first = queue;
      }
    }
    return first;
  }

  // Blocks until a batch is ready and takes it; nullopt once stopping.
  std::optional<Batch> NextBatch() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      absl::Time ready;
      BatchQueue* queue = FirstReady(&ready);
      const absl::Time now = absl::Now();
      if (queue != nullptr && ready <= now) {
        Batch batch = queue->TakeBatch(now);
        // Someone else must watch what is left (sleepers may be waiting past its ready time).
        if (FirstReady(&ready) != nullptr) wake.notify_one();
        return batch;
      }
      if (queue == nullptr) {
        wake.wait(lock);
      } else {
        wake.wait_for(lock, absl::ToChronoNanoseconds(ready - now));
      }
    }
    return std::nullopt;
  }

  // Runs `batch` and marks it answered; the caller destroys the callbacks afterwards, outside
  // the lock, because releasing their captures may destroy a Batcher.
  void RunAndFinish(Batch& batch) {
    batch.queue->Run(batch, *pool);
    std::lock_guard<std::mutex> lock(mu);
    batch.queue->Finished(static_cast<int64_t>(batch.requests.size()));
    if (batch.queue->in_flight() == 0) drained.notify_all();
  }

  void WorkerLoop() {
    while (std::optional<Batch> batch = NextBatch()) RunAndFinish(*batch);
  }

  const std::unique_ptr<ComputePool> pool;
  const bool inline_when_idle;
  std::mutex mu;                    // guards everything below and every registered queue
  std::condition_variable wake;     // new work, or work whose ready time nobody waits for
  std::condition_variable drained;  // a queue's last in-flight request was answered
  std::vector<BatchQueue*> queues;
  bool stop = false;
};

absl::StatusOr<std::shared_ptr<BatchScheduler>> BatchScheduler::Create(int threads,
                                                                       bool inline_when_idle) {
  ComputePool::Options options;
  options.threads = threads;
  ASSIGN_OR_RETURN(std::unique_ptr<ComputePool> pool, ComputePool::Create(options));
  const int workers = pool->threads();
  return std::shared_ptr<BatchScheduler>(
      new BatchScheduler(std::make_shared<State>(std::move(pool), inline_when_idle), workers));
}

BatchScheduler::BatchScheduler(std::shared_ptr<State> state, int workers)
    : state_(std::move(state)) {
  workers_.reserve(workers);
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([state = state_] { state->WorkerLoop(); });
  }
}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->wake.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.get_id() == std::this_thread::get_id()) {
      worker.detach();  // it holds `state_` and leaves its loop on `stop`
    } else {
      worker.join();
    }
  }
}

const ComputePool& BatchScheduler::pool() const { return *state_->pool; }

void BatchScheduler::Register(BatchQueue* queue) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->queues.push_back(queue);
}

void BatchScheduler::Enqueue(BatchQueue* queue, QueuedRequest request) {
  absl::Status refusal;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    refusal = queue->CheckAdmission(request.request.shape[0]);
    const bool run_here = state_->inline_when_idle && queue->CanRunInline();
    if (refusal.ok() && !run_here) {
      queue->Push(std::move(request));
      state_->wake.notify_one();
      return;
    }
    if (refusal.ok()) queue->StartInline();
  }
  if (!refusal.ok()) {
    std::move(request.done)(std::move(refusal));
    return;
  }
  // A batch of one, run like a worker would (same kernel call, so the same bits).
  Batch batch{queue, {}};
  batch.requests.push_back(std::move(request));
  state_->RunAndFinish(batch);
}

void BatchScheduler::Drain(BatchQueue* queue) {
  State& state = *state_;
  std::unique_lock<std::mutex> lock(state.mu);
  queue->Close();
  state.wake.notify_all();  // idle workers help run what is left
  while (queue->ReadyTime() != absl::InfiniteFuture()) {
    std::optional<Batch> batch(queue->TakeBatch(absl::Now()));
    lock.unlock();
    state.RunAndFinish(*batch);
    batch.reset();
    lock.lock();
  }
  state.drained.wait(lock, [queue] { return queue->in_flight() == 0; });
  state.queues.erase(std::find(state.queues.begin(), state.queues.end(), queue));
}

}  // namespace tconv::server::internal
