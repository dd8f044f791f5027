#include "server/core/batch_queue.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::server::internal {
namespace {

int64_t ExampleElements(const Shape4& shape) { return shape[1] * shape[2] * shape[3]; }

}  // namespace

BatchQueue::BatchQueue(BatchingOptions options, std::string layer_name,
                       std::shared_ptr<const Conv2DTranspose> layer, MetricsObserver* observer)
    : options_(options),
      name_(std::move(layer_name)),
      layer_(std::move(layer)),
      observer_(observer) {}

absl::Status BatchQueue::CheckAdmission(int64_t examples) const {
  if (closed_) {
    return absl::UnavailableError(
        absl::StrCat("layer '", name_, "' is being unloaded; its batcher takes no new requests"));
  }
  if (examples > options_.max_queue_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request has ", examples, " examples, more than the queue of layer '", name_,
        "' can hold (max_queue_size ", options_.max_queue_size, "); send smaller requests"));
  }
  if (queued_examples_ + examples > options_.max_queue_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "queue of layer '", name_, "' is full: ", queued_examples_, " of ", options_.max_queue_size,
        " examples waiting, the request has ", examples, "; retry later"));
  }
  return absl::OkStatus();
}

void BatchQueue::Push(QueuedRequest request) {
  const Shape4& shape = request.request.shape;
  SubQueue& sub = by_shape_[{shape[1], shape[2], shape[3]}];
  sub.examples += shape[0];
  queued_examples_ += shape[0];
  ++in_flight_;
  sub.requests.push_back(std::move(request));
  ReportDepth();
}

absl::Time BatchQueue::ReadyTime(const SubQueue& sub) const {
  const absl::Time first = sub.requests.front().accepted;
  if (closed_ || sub.examples >= BatchLimit(sub)) return first;
  return first + options_.batch_timeout;
}

int64_t BatchQueue::BatchLimit(const SubQueue& sub) const {
  const QueuedRequest& front = sub.requests.front();
  const int64_t example_elements =
      std::max(ExampleElements(front.request.shape), ExampleElements(front.output_shape));
  return std::min(options_.max_batch_size, LayerLimits::kMaxTensorElements / example_elements);
}

absl::Time BatchQueue::ReadyTime() const {
  absl::Time ready = absl::InfiniteFuture();
  for (const auto& [key, sub] : by_shape_) ready = std::min(ready, ReadyTime(sub));
  return ready;
}

Batch BatchQueue::TakeBatch(absl::Time now) {
  auto chosen = by_shape_.begin();
  for (auto it = by_shape_.begin(); it != by_shape_.end(); ++it) {
    if (ReadyTime(it->second) < ReadyTime(chosen->second)) chosen = it;
  }
  SubQueue& sub = chosen->second;
  const int64_t limit = BatchLimit(sub);
  Batch batch{this, {}};
  int64_t taken = 0;   // examples leaving the queue
  int64_t to_run = 0;  // of which will be computed, as far as is known now
  while (!sub.requests.empty()) {
    const InferenceRequest& next = sub.requests.front().request;
    // Expired requests ride along to be answered but take no room in the batch.
    const bool expired = next.deadline <= now;
    if (!expired && to_run > 0 && to_run + next.shape[0] > limit) break;
    taken += next.shape[0];
    if (!expired) to_run += next.shape[0];
    batch.requests.push_back(std::move(sub.requests.front()));
    sub.requests.pop_front();
  }
  sub.examples -= taken;
  queued_examples_ -= taken;
  if (sub.requests.empty()) by_shape_.erase(chosen);
  ReportDepth();
  return batch;
}

void BatchQueue::Close() { closed_ = true; }

void BatchQueue::ReportDepth() const {
  if (observer_ != nullptr) observer_->OnQueueDepth(name_, queued_examples_);
}

std::vector<QueuedRequest*> BatchQueue::AnswerDropped(Batch& batch, absl::Time now) const {
  std::vector<QueuedRequest*> live;
  for (QueuedRequest& queued : batch.requests) {
    const InferenceRequest& request = queued.request;
    if (request.deadline <= now) {
      std::move(queued.done)(absl::DeadlineExceededError(
          absl::StrCat("deadline passed after ", absl::FormatDuration(now - request.enqueued),
                       " in the queue of layer '", name_, "'; not computed")));
    } else if (request.is_cancelled && request.is_cancelled()) {
      std::move(queued.done)(absl::CancelledError(
          absl::StrCat("request to layer '", name_, "' cancelled while queued; not computed")));
    } else {
      live.push_back(&queued);
    }
  }
  return live;
}

void BatchQueue::Run(Batch& batch, const ComputePool& pool) const {
  const absl::Time start = absl::Now();
  const std::vector<QueuedRequest*> live = AnswerDropped(batch, start);
  if (live.empty()) return;

  // One request runs on its own buffers; several are concatenated along the batch axis, which
  // is the outermost axis in both data formats.
  Shape4 input_shape = live.front()->request.shape;
  Shape4 output_shape = live.front()->output_shape;
  int64_t examples = 0;
  for (const QueuedRequest* queued : live) examples += queued->request.shape[0];
  input_shape[0] = output_shape[0] = examples;
  std::vector<float> merged_input;
  if (live.size() > 1) {
    merged_input.reserve(examples * ExampleElements(input_shape));
    for (const QueuedRequest* queued : live) {
      const absl::Span<const float> values = queued->request.Input();
      merged_input.insert(merged_input.end(), values.begin(), values.end());
    }
  }
  const absl::Span<const float> input =
      live.size() > 1 ? absl::MakeConstSpan(merged_input) : live.front()->request.Input();
  // A lone request whose caller has memory for its answer gets the kernel's output written
  // there: no tensor-sized buffer of ours, no copy of it. A merged run's output is not zeroed
  // first (the kernel writes every value): each request's rows are copied out of it once.
  const int64_t output_values = examples * ExampleElements(output_shape);
  const OutputBuffer& lone_buffer = live.front()->request.output_buffer;
  std::vector<float> lone_output;  // a lone request without a buffer: becomes its answer
  std::unique_ptr<float[]> merged_output;
  absl::Span<float> destination;
  if (live.size() > 1) {
    merged_output.reset(new float[output_values]);
    destination = absl::MakeSpan(merged_output.get(), output_values);
  } else if (lone_buffer) {
    destination = lone_buffer(output_values);
  } else {
    lone_output.resize(output_values);
    destination = absl::MakeSpan(lone_output);
  }

  const absl::Time compute_start = absl::Now();
  const absl::Status status = layer_->Run(input, input_shape, destination, pool);
  const absl::Duration compute = absl::Now() - compute_start;
  if (!status.ok()) {
    for (QueuedRequest* queued : live) std::move(queued->done)(status);
    return;
  }
  Answer(live, start, compute, examples, destination, std::move(lone_output));
}

void BatchQueue::Answer(const std::vector<QueuedRequest*>& live, absl::Time start,
                        absl::Duration compute, int64_t examples, absl::Span<const float> output,
                        std::vector<float> lone_output) const {
  std::vector<absl::Duration> queue_durations;
  queue_durations.reserve(live.size());
  for (const QueuedRequest* queued : live) {
    // Clamped: `enqueued` is the caller's clock reading and may be later than ours.
    queue_durations.push_back(std::max(start - queued->request.enqueued, absl::ZeroDuration()));
  }
  if (observer_ != nullptr) {
    observer_->OnBatch(name_, examples, compute, queue_durations.data(),
                       static_cast<int64_t>(live.size()));
  }
  const int64_t row = ExampleElements(live.front()->output_shape);
  int64_t offset = 0;
  for (size_t i = 0; i < live.size(); ++i) {
    InferenceResult result;
    result.shape = live[i]->output_shape;
    const int64_t size = result.shape[0] * row;
    const OutputBuffer& buffer = live[i]->request.output_buffer;
    // NOLINTBEGIN(bugprone-use-after-move): `lone_output` is moved only when the loop has one
    // pass
    if (live.size() == 1) {
      // The whole run is this request's answer, already in its buffer when it has one.
      result.output_in_buffer = static_cast<bool>(buffer);
      if (!buffer) result.output = std::move(lone_output);
    } else if (buffer) {
      std::copy_n(output.begin() + offset, size, buffer(size).begin());
      result.output_in_buffer = true;
    } else {
      result.output.assign(output.begin() + offset, output.begin() + offset + size);
    }
    // NOLINTEND(bugprone-use-after-move)
    offset += size;
    result.queue_duration = queue_durations[i];
    result.compute_duration = compute;
    result.batch_size = examples;
    std::move(live[i]->done)(std::move(result));
  }
}

}  // namespace tconv::server::internal
