#include "server/core/batcher.h"

#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/core/batch_queue.h"
#include "server/core/batch_scheduler.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server {
namespace {

using internal::BatchQueue;
using internal::BatchScheduler;
using internal::QueuedRequest;

// Elements of `shape`, or -1 when the product does not fit in int64_t.
int64_t ElementCount(const Shape4& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(count, dim, &count)) return -1;
  }
  return count;
}

class BatcherImpl final : public Batcher {
 public:
  BatcherImpl(std::shared_ptr<BatchScheduler> scheduler, std::unique_ptr<BatchQueue> queue)
      : scheduler_(std::move(scheduler)), queue_(std::move(queue)) {
    scheduler_->Register(queue_.get());
  }
  ~BatcherImpl() override { scheduler_->Drain(queue_.get()); }

  void Submit(InferenceRequest request, InferenceCallback done) override {
    absl::StatusOr<Shape4> output_shape = Check(request);
    if (!output_shape.ok()) {
      std::move(done)(output_shape.status());
      return;
    }
    scheduler_->Enqueue(queue_.get(), QueuedRequest{std::move(request), std::move(done),
                                                    *output_shape, absl::Now()});
  }

  const BatchingOptions& options() const override { return queue_->options(); }

 private:
  // The output shape of a well-formed request that can still meet its deadline.
  absl::StatusOr<Shape4> Check(const InferenceRequest& request) const {
    const std::string& name = queue_->name();
    ASSIGN_OR_RETURN(Shape4 output_shape, queue_->layer().OutputShape(request.shape));
    const int64_t expected = ElementCount(request.shape);
    if (expected != static_cast<int64_t>(request.Input().size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input of layer '", name, "' has ", request.Input().size(), " values, its shape [",
          absl::StrJoin(request.shape, ","), "] needs ", expected));
    }
    if (request.deadline <= absl::Now()) {
      return absl::DeadlineExceededError(
          absl::StrCat("deadline passed before the request reached layer '", name, "'"));
    }
    return output_shape;
  }

  const std::shared_ptr<BatchScheduler> scheduler_;
  const std::unique_ptr<BatchQueue> queue_;  // registered with scheduler_ for our lifetime
};

}  // namespace

// One batch worker per pool thread. A batch's kernel run may use fewer threads than the pool
// has (small layers stay below the kernel's parallel grain), so with fewer workers cores would
// idle while requests wait; more workers add no compute, because every kernel run enters the
// pool's task_arena, which admits at most `threads` threads at once, and would only split the
// waiting requests into smaller batches. Workers are otherwise busy only copying rows in and
// out, so the server's compute concurrency stays bounded by `threads`.
absl::StatusOr<std::shared_ptr<BatchExecutor>> BatchExecutor::Create(Options options) {
  ASSIGN_OR_RETURN(std::shared_ptr<BatchExecutor> executor,
                   BatchScheduler::Create(options.threads, options.inline_when_idle));
  return executor;
}

absl::StatusOr<std::unique_ptr<Batcher>> Batcher::Create(
    BatchingOptions options, std::string layer_name, std::shared_ptr<const Conv2DTranspose> layer,
    const std::shared_ptr<BatchExecutor>& executor, MetricsObserver* observer) {
  RETURN_IF_ERROR(options.Validate());
  if (layer == nullptr) return absl::InvalidArgumentError("layer must not be null");
  auto scheduler = std::dynamic_pointer_cast<BatchScheduler>(executor);
  if (scheduler == nullptr) {
    return absl::InvalidArgumentError("executor must come from BatchExecutor::Create");
  }
  auto queue =
      std::make_unique<BatchQueue>(options, std::move(layer_name), std::move(layer), observer);
  return std::unique_ptr<Batcher>(new BatcherImpl(std::move(scheduler), std::move(queue)));
}

}  // namespace tconv::server
