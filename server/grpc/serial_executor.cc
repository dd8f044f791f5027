#include "server/grpc/serial_executor.h"

#include <utility>

#include "server/grpc/status_edge.h"

namespace tconv::server {

SerialExecutor::SerialExecutor() : thread_([this] { Loop(); }) {}

SerialExecutor::~SerialExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_or_stop_.notify_one();
  thread_.join();
}

void SerialExecutor::Add(absl::AnyInvocable<void() &&> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(work));
  }
  work_or_stop_.notify_one();
}

void SerialExecutor::Loop() {
  while (true) {
    absl::AnyInvocable<void() &&> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_or_stop_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(work)();
  }
}

grpc::ServerUnaryReactor* FinishLater(SerialExecutor& executor,
                                      grpc::CallbackServerContext* context,
                                      absl::AnyInvocable<absl::Status() &&> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  executor.Add([reactor, work = std::move(work)]() mutable {
    reactor->Finish(ToGrpcStatus(std::move(work)()));
  });
  return reactor;
}

}  // namespace tconv::server
