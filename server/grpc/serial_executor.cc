#include "server/grpc/serial_executor.h"

#include <utility>

#include "server/grpc/status_edge.h"

namespace tconv::server {

SerialExecutor::SerialExecutor() : thread_([this] { Loop(); }) {}

SerialExecutor::~SerialExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void SerialExecutor::Add(absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

void SerialExecutor::Loop() {
  while (true) {
    absl::AnyInvocable<void() &&> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SerialExecutor::HasWorkOrStopping));
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
