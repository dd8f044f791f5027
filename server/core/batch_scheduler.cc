#include "server/core/batch_scheduler.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server::internal {

struct BatchScheduler::State {
  explicit State(std::unique_ptr<ComputePool> compute_pool) : pool(std::move(compute_pool)) {}

  // The queue whose batch is ready first, or null when none holds anything.
  BatchQueue* FirstReady(absl::Time* ready) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    BatchQueue* first = nullptr;
    *ready = absl::InfiniteFuture();
    for (BatchQueue* queue : queues) {
      const absl::Time t = queue->ReadyTime();
      if (t < *ready) *ready = t, first = queue;
    }
    return first;
  }

  // Blocks until a batch is ready and takes it; nullopt once stopping.
  std::optional<Batch> NextBatch() {
    absl::MutexLock lock(&mu);
    while (!stop) {
      absl::Time ready;
      BatchQueue* queue = FirstReady(&ready);
      if (queue != nullptr && ready <= absl::Now()) {
        Batch batch = queue->TakeBatch();
        // Someone else must watch what is left (sleepers may be waiting past its ready time).
        if (FirstReady(&ready) != nullptr) wake.Signal();
        return batch;
      }
      wake.WaitWithDeadline(&mu, ready);
    }
    return std::nullopt;
  }

  // Runs `batch` and marks it answered; the caller destroys the callbacks afterwards, outside
  // the lock, because releasing their captures may destroy a Batcher.
  void RunAndFinish(Batch& batch) {
    batch.queue->Run(batch, *pool);
    absl::MutexLock lock(&mu);
    batch.queue->Finished(static_cast<int64_t>(batch.requests.size()));
  }

  void WorkerLoop() {
    while (std::optional<Batch> batch = NextBatch()) RunAndFinish(*batch);
  }

  const std::unique_ptr<ComputePool> pool;
  absl::Mutex mu;
  absl::CondVar wake;  // new work, or work whose ready time workers may not be waiting for
  std::vector<BatchQueue*> queues ABSL_GUARDED_BY(mu);
  bool stop ABSL_GUARDED_BY(mu) = false;
};

absl::StatusOr<std::shared_ptr<BatchScheduler>> BatchScheduler::Create(int threads) {
  ComputePool::Options options;
  options.threads = threads;
  ASSIGN_OR_RETURN(std::unique_ptr<ComputePool> pool, ComputePool::Create(options));
  const int workers = pool->threads();
  return std::shared_ptr<BatchScheduler>(
      new BatchScheduler(std::make_shared<State>(std::move(pool)), workers));
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
    absl::MutexLock lock(&state_->mu);
    state_->stop = true;
    state_->wake.SignalAll();
  }
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
  absl::MutexLock lock(&state_->mu);
  state_->queues.push_back(queue);
}

void BatchScheduler::Enqueue(BatchQueue* queue, QueuedRequest request) {
  absl::Status refusal;
  {
    absl::MutexLock lock(&state_->mu);
    refusal = queue->CheckAdmission(request.request.shape[0]);
    if (refusal.ok()) {
      queue->Push(std::move(request));
      state_->wake.Signal();
      return;
    }
  }
  std::move(request.done)(std::move(refusal));
}

void BatchScheduler::Drain(BatchQueue* queue) {
  State& state = *state_;
  state.mu.Lock();
  queue->Close();
  state.wake.SignalAll();  // idle workers help run what is left
  while (queue->ReadyTime() != absl::InfiniteFuture()) {
    std::optional<Batch> batch(queue->TakeBatch());
    state.mu.Unlock();
    state.RunAndFinish(*batch);
    batch.reset();
    state.mu.Lock();
  }
  state.mu.Await(absl::Condition(
      +[](BatchQueue* q) { return q->in_flight() == 0; }, queue));
  state.queues.erase(std::find(state.queues.begin(), state.queues.end(), queue));
  state.mu.Unlock();
}

}  // namespace tconv::server::internal
