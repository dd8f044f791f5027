// payload_floor: an Open Inference Protocol server that does nothing but answer — the byte
// ceiling of bench/service/run.sh. ServerLive answers at once; ModelInfer, for any model name,
// answers one FP32 output `output` of shape [batch, --output_hwc] (batch taken from the
// request's input) with that many zero bytes, as raw_output_contents. So `tconv loadgen`
// against it makes "an empty RPC carrying the same payload sizes" as a real layer, through the
// same client, the same messages and the same gRPC settings as tconv-server (message limit,
// stream window), without decoding, computing or copying anything a server would not have to:
//
//   payload_floor --grpc_address=127.0.0.1:0 --output_hwc=14,14,64
//   payload_floor serving grpc=127.0.0.1:40123
#include <malloc.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "inference/grpc_service.grpc.pb.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:0", "where to listen (loopback only)");
ABSL_FLAG(std::string, output_hwc, "1,1,1", "the answer's shape after the batch: H,W,C");
ABSL_FLAG(int, max_message_bytes, 64 << 20, "as tconv-server's --max_message_bytes");

namespace tconv {
namespace {

class PayloadFloor final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit PayloadFloor(std::vector<int64_t> output_hwc) : output_hwc_(std::move(output_hwc)) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) override {
    response->set_live(true);
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override {
    if (request->inputs_size() != 1 || request->inputs(0).shape_size() < 1) {
      return Finish(context, {grpc::StatusCode::INVALID_ARGUMENT, "one batched input, please"});
    }
    int64_t elements = request->inputs(0).shape(0);
    auto* output = response->add_outputs();
    output->set_name("output");
    output->set_datatype("FP32");
    output->add_shape(elements);
    for (int64_t dim : output_hwc_) {
      output->add_shape(dim);
      elements *= dim;
    }
    // The one write of the answer's bytes a server cannot avoid (the kernel's output).
    response->add_raw_output_contents()->resize(static_cast<size_t>(elements) * sizeof(float));
    return Finish(context, grpc::Status::OK);
  }

 private:
  static grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                          const grpc::Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  const std::vector<int64_t> output_hwc_;
};

sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

int Serve() {
  std::vector<int64_t> hwc;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_output_hwc), ',')) {
    int64_t dim = 0;
    if (!absl::SimpleAtoi(part, &dim) || dim < 1) {
      std::fprintf(stderr, "payload_floor: --output_hwc needs H,W,C of positive numbers\n");
      return 2;
    }
    hwc.push_back(dim);
  }
  PayloadFloor service(std::move(hwc));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_grpc_address), grpc::InsecureServerCredentials(),
                           &port);
  // The same transport settings as tconv-server (server/grpc/server.cc).
  builder.SetMaxReceiveMessageSize(absl::GetFlag(FLAGS_max_message_bytes));
  builder.SetMaxSendMessageSize(absl::GetFlag(FLAGS_max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "payload_floor: cannot listen on %s\n",
                 absl::GetFlag(FLAGS_grpc_address).c_str());
    return 1;
  }
  const std::string address = absl::GetFlag(FLAGS_grpc_address);
  std::printf("payload_floor serving grpc=%s:%d\n", address.substr(0, address.rfind(':')).c_str(),
              port);
  std::fflush(stdout);
  // SIGTERM/SIGINT end the server: wait for them on this thread, then shut down.
  const sigset_t signals = TerminationSignals();
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace tconv

int main(int argc, char** argv) {
  // Blocked before gRPC starts its threads, so that only sigwait in Serve() receives them.
  const sigset_t signals = tconv::TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // tconv-server's malloc settings (server/main.cc), so the floor pays what the server pays.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  absl::ParseCommandLine(argc, argv);
  return tconv::Serve();
}
