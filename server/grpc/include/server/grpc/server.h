// Server: tconv's gRPC endpoint — the Open Inference Protocol (data plane), tconv.v1.LayerService
// (control plane), the standard grpc.health.v1.Health service and server reflection, over one
// LayerManager. Lifecycle:
//
//   ASSIGN_OR_RETURN(auto server, Server::Create(options));
//   RETURN_IF_ERROR(server->Start());  // listening; health NOT_SERVING, ServerReady false
//   server->MarkReady();               // the repository is loaded: health SERVING
//   ...
//   server->Shutdown(absl::Now() + drain_timeout);  // NOT_SERVING, refuse new, finish in-flight
#ifndef TCONV_SERVER_GRPC_SERVER_H_
#define TCONV_SERVER_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/core/metrics_observer.h"
#include "server/core/shared_memory_registry.h"
#include "server/grpc/auth.h"
#include "server/grpc/drain.h"
#include "server/grpc/serial_executor.h"

namespace tconv::server {

class InferenceService;
class LayerService;

class Server {
 public:
  struct Options {
    // HOST:PORT to listen on ("[::1]:0", "0.0.0.0:8001"); port 0 picks a free port, see
    // address(). 8001 is the Open Inference Protocol's conventional gRPC port (Triton's).
    std::string grpc_address = "0.0.0.0:8001";
    // Largest request and response message. gRPC's default of 4 MiB is smaller than common
    // batches (32 images of 256x256x3 float32 are 24 MiB; the largest batch of the benchmark
    // suite, unet_last 8x64x64x160, is 20 MiB). 256 MiB admits such batches many times over
    // while bounding what one call can make the server hold (the message, its decoded copy
    // and the output: about 3x this). A larger message is refused by gRPC itself with
    // RESOURCE_EXHAUSTED naming the limit.
    int64_t max_message_bytes = int64_t{256} << 20;
    // Close connections after this age (with a grace period of the same length) so that
    // clients re-resolve and rebalance across replicas; infinite = never.
    absl::Duration max_connection_age = absl::InfiniteDuration();
    // Transport security for the listening port; null = insecure (plaintext).
    std::shared_ptr<grpc::ServerCredentials> credentials;
    // Bearer-token checks (see auth.h); null = every RPC open. Use with `credentials`: a token
    // sent in plaintext can be read off the network.
    std::shared_ptr<const Authorizer> authorizer;
    // Without an authorizer, who may create/delete layers and load/unload the repository: by
    // default local peers only (the port is usually reachable from the network).
    ControlPeerPolicy control_peers;
    // Required; must outlive the server. Finished inference RPCs are reported to its
    // statistics(), which forward them to the manager's observer (the metrics exporter).
    LayerManager* manager = nullptr;
    std::string version = "unknown";  // ServerMetadata.version
  };

  // INVALID_ARGUMENT naming the option for a missing manager, an empty address or a message
  // limit outside [1 KiB, 2 GiB).
  static absl::StatusOr<std::unique_ptr<Server>> Create(Options options);
  // Shuts down at once if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving, not ready yet. UNAVAILABLE when the address cannot be bound.
  absl::Status Start();
  // The bound HOST:PORT (the chosen port when the option said 0). Valid after Start().
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // ModelInfer calls received and not yet answered (e.g. what a drain is waiting for).
  int64_t InFlightInferences() const;

  // Health SERVING (for "" and each service) and ServerReady true.
  void MarkReady();
  // Health NOT_SERVING, ServerReady false, new inferences UNAVAILABLE; accepted ones finish.
  // Open ModelStreamInfer streams end with UNAVAILABLE once their accepted requests are answered.
  void StartDraining();
  // Drains (see drain.h: every inference gets its answer or UNAVAILABLE, none is cancelled
  // unless it still runs at `deadline`), stops gRPC and returns once every call has ended.
  // Idempotent.
  void Shutdown(absl::Time deadline);

 private:
  explicit Server(Options options);
  void SetHealth(bool serving);

  const Options options_;
  SerialExecutor control_;  // declared first: outlives the services and the gRPC server
  Drain drain_;
  SharedMemoryRegistry shared_memory_;  // Triton's system shared memory regions
  std::unique_ptr<InferenceService> inference_service_;
  std::unique_ptr<LayerService> layer_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_SERVER_H_
