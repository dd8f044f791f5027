// SerialExecutor: one thread that runs the control plane's work (create, replace, delete,
// load, unload) in order. Those calls validate and pack weights and fsync the repository —
// milliseconds to seconds — and must not occupy gRPC's callback threads, which also finish
// every inference.
#ifndef TCONV_SERVER_GRPC_SERIAL_EXECUTOR_H_
#define TCONV_SERVER_GRPC_SERIAL_EXECUTOR_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace tconv::server {

class SerialExecutor {
 public:
  SerialExecutor();
  // Runs everything already added, then joins the thread.
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  // Queues `work` to run after everything added before it. Thread-safe.
  void Add(absl::AnyInvocable<void() &&> work);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable work_or_stop_;
  std::deque<absl::AnyInvocable<void() &&>> queue_;  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::thread thread_;
};

// A unary call answered from `executor`: runs `work` there and finishes the call's reactor
// with its status.
grpc::ServerUnaryReactor* FinishLater(SerialExecutor& executor,
                                      grpc::CallbackServerContext* context,
                                      absl::AnyInvocable<absl::Status() &&> work);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_SERIAL_EXECUTOR_H_
