// Triton's streaming inference (GRPCInferenceService.ModelStreamInfer): a bidirectional stream
// of ModelInferRequest -> ModelStreamInferResponse. Every request goes through ModelInfer's
// checks (InferenceService::PrepareInfer) into the same batcher, so requests of many streams
// and unary calls batch together; answers are written in completion order, each with its request's
// id. A refused request gets error_message and the stream goes on.
//
// One StreamReactor per stream, owned by a shared_ptr to itself until OnDone: the batcher's
// callbacks and DrainStreams hold references too, so none of them can outlive it. Every state
// change happens under the reactor's lock and yields what to start next (NextLocked); the
// gRPC operations are started outside the lock.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/oip_codec.h"
#include "server/grpc/status_edge.h"

namespace tconv::server {
namespace {

using inference::ModelInferRequest;
using inference::ModelStreamInferResponse;

// Requests of one stream read and not yet answered (in the batcher or waiting to be written).
// At this many the stream stops reading until answers are written, so a client that sends
// faster than it reads cannot make the server hold unbounded answers (HTTP/2 flow control then
// slows the sender). Well above a batch (max_batch_size defaults to 32), so one stream alone
// still fills batches.
constexpr int64_t kMaxPendingPerStream = 128;

absl::Status StreamDrainingError() {
  return absl::UnavailableError(
      "server is draining: the stream ends after the answers of its accepted requests; "
      "reconnect (to another replica) to go on");
}

}  // namespace

class InferenceService::StreamReactor final
    : public grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>,
      public std::enable_shared_from_this<StreamReactor> {
 public:
  StreamReactor(InferenceService& service, CallContext* context)
      : service_(service), context_(context) {}

  // Checks access, registers the stream for drains and starts reading. Once, right after
  // make_shared.
  void Start() {
    self_ = shared_from_this();
    absl::Status refused = Authorize(service_.options_.access, *context_, Authorizer::Scope::kRead);
    if (refused.ok() && !service_.AddStream(self_)) refused = StreamDrainingError();
    if (!refused.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        finished_ = true;
      }
      Finish(ToGrpcStatus(refused));
      return;
    }
    Act(Locked([] {}));
  }

  // Stops reading; the stream ends with UNAVAILABLE once the accepted requests are answered.
  void Drain() {
    Act(Locked([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { draining_ = true; }));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the stream broke / was finished
      Act(Locked([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        reading_ = false;
        reads_done_ = true;
      }));
      return;
    }
    const absl::Time start = absl::Now();
    auto request = std::make_shared<ModelInferRequest>(std::move(request_));
    bool accepted = false;
    // Counted as pending before the next read starts, so the limit holds.
    Act(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      reading_ = false;
      accepted = !finished_;
      if (accepted) ++pending_;
    }));
    if (accepted) Handle(std::move(request), start);
  }

  void OnWriteDone(bool ok) override {
    Act(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      writing_ = false;
      writes_.pop_front();
      --pending_;
      if (!ok) {  // the stream is broken: nothing more can be written
        broken_ = true;
        DropUnsentLocked();
      }
    }));
  }

  void OnCancel() override {
    Act(Locked([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      broken_ = true;
      DropUnsentLocked();
    }));
  }

  void OnDone() override {
    service_.RemoveStream(this);
    // The last reference may be this one: nothing of *this is touched after it goes.
    std::shared_ptr<StreamReactor> last = std::move(self_);
  }

 private:
  // What to start after a state change, outside the lock.
  struct Next {
    const ModelStreamInferResponse* write = nullptr;
    bool read = false;
    std::optional<grpc::Status> finish;
  };

  template <typename Change>
  Next Locked(Change change) {
    std::lock_guard<std::mutex> lock(mu_);
    change();
    return NextLocked();
  }

  Next NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Next next;
    if (finished_) return next;
    if (!writing_ && !writes_.empty()) {
      writing_ = true;
      next.write = &writes_.front();  // a deque keeps it in place while others are added
    }
    if (!reading_ && !reads_done_ && !draining_ && !broken_ && pending_ < kMaxPendingPerStream) {
      reading_ = true;
      next.read = true;
    }
    if (pending_ == 0 && !writing_ && (reads_done_ || draining_ || broken_)) {
      finished_ = true;
      // A read may still be outstanding (drain, cancel): finishing completes it with !ok.
      if (reads_done_ && !broken_) {
        next.finish = grpc::Status::OK;
      } else if (draining_ && !broken_) {
        next.finish = ToGrpcStatus(StreamDrainingError());
      } else {
        next.finish = grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled");
      }
    }
    return next;
  }

  void Act(const Next& next) {
    if (next.write != nullptr) StartWrite(next.write);
    if (next.read) StartRead(&request_);
    if (next.finish) Finish(*next.finish);
  }

  // Answers not yet handed to gRPC are dropped (the one being written stays until its
  // OnWriteDone).
  void DropUnsentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t keep = writing_ ? 1 : 0;
    while (writes_.size() > keep) {
      writes_.pop_back();
      --pending_;
    }
  }

  void Handle(std::shared_ptr<ModelInferRequest> request, absl::Time start) {
    std::optional<SharedMemoryTensor> output;
    absl::StatusOr<InferenceRequest> decoded =
        service_.PrepareInfer(context_, *request, start, &output);
    if (!decoded.ok()) {
      Answer(*request, start, decoded.status());
      return;
    }
    // The callback keeps the request: `decoded` borrows its raw input bytes until answered.
    const std::string model = request->model_name();
    service_.options_.manager->Infer(
        model, *std::move(decoded),
        [self = self_, request = std::move(request), start,
         output = std::move(output)](const absl::StatusOr<InferenceResult>& result) {
          self->Answer(*request, start, result, output);
        });
  }

  // Counts the request like a ModelInfer and queues its answer.
  void Answer(const ModelInferRequest& request, absl::Time start,
              const absl::StatusOr<InferenceResult>& result,
              const std::optional<SharedMemoryTensor>& output = std::nullopt) {
    ModelStreamInferResponse response;
    inference::ModelInferResponse* answer = response.mutable_infer_response();
    absl::Status status = result.status();
    if (status.ok()) status = EncodeInferAnswer(request, *result, output, answer);
    if (!status.ok()) {
      answer->Clear();
      response.set_error_message(ToErrorMessage(status));
      answer->set_model_name(request.model_name());
      answer->set_id(request.id());
    }
    if (service_.options_.observer != nullptr) {
      service_.options_.observer->OnRequest(request.model_name(), status.code(),
                                            absl::Now() - start);
    }
    Act(Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (broken_) {
        --pending_;
      } else {
        writes_.push_back(std::move(response));
      }
    }));
  }

  InferenceService& service_;
  CallContext* const context_;
  std::shared_ptr<StreamReactor> self_;  // from Start until OnDone
  ModelInferRequest request_;            // the read in progress
  std::mutex mu_;
  std::deque<ModelStreamInferResponse> writes_ ABSL_GUARDED_BY(mu_);  // front: being written
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;  // read, answer not yet written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;  // the client closed its side
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // cancelled, or a write failed
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>*
InferenceService::ModelStreamInfer(CallContext* context) {
  auto stream = std::make_shared<StreamReactor>(*this, context);
  stream->Start();
  return stream.get();
}

bool InferenceService::AddStream(const std::shared_ptr<StreamReactor>& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (draining_streams_) return false;
  streams_[stream.get()] = stream;
  return true;
}

void InferenceService::RemoveStream(const StreamReactor* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(stream);
}

void InferenceService::DrainStreams() {
  std::vector<std::shared_ptr<StreamReactor>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_streams_ = true;
    for (const auto& [key, weak] : streams_) {
      if (auto stream = weak.lock()) open.push_back(std::move(stream));
    }
  }
  for (const auto& stream : open) stream->Drain();
}

}  // namespace tconv::server
