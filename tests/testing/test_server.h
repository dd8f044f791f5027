// An in-process tconv server on 127.0.0.1:0 over a model repository (its own temporary one
// unless given), recording what it reports, with raw generated stubs to call it (so the server
// tests do not depend on the client library; the client tests call address()).
#ifndef TCONV_TESTS_TESTING_TEST_SERVER_H_
#define TCONV_TESTS_TESTING_TEST_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "inference/grpc_service.grpc.pb.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/core/metrics_observer.h"
#include "server/grpc/server.h"
#include "tconv/v1/layer_service.grpc.pb.h"
#include "testing/recording_observer.h"
#include "testing/temp_dir.h"

namespace tconv::server::testing {

using ::tconv::testing::RecordingObserver;
using ::tconv::testing::TempDir;

// The one in-process server of the tests (gRPC, client and tool tests alike).
class TestServer {
 public:
  struct Options {
    std::string repository_dir;  // "": <dir()>/repository, removed with the server
    std::string grpc_address = "127.0.0.1:0";
    BatchingOptions batching;
    int threads = 2;
    int64_t max_message_bytes = int64_t{256} << 20;
    bool mark_ready = true;  // false: started but not ready (health NOT_SERVING)
    // Server::Options' security fields (the security tests): null credentials = plaintext.
    std::shared_ptr<grpc::ServerCredentials> credentials;
    std::shared_ptr<const Authorizer> authorizer;
    ControlPeerPolicy control_peers;
  };
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<TestServer>> Start() { return Start(Options()); }
  ~TestServer();

  Server& server() { return *server_; }
  LayerManager& manager() { return *manager_; }
  // The repository the manager serves from.
  const std::string& repository() const { return repository_; }
  // The names ListLayers gives, in its order.
  std::vector<std::string> LayerNames() const;
  RecordingObserver& observer() { return observer_; }
  // "127.0.0.1:<port>".
  const std::string& address() const { return server_->address(); }
  int port() const { return server_->port(); }
  // A scratch directory of this server's test, removed with it.
  const std::string& dir() const { return scratch_.path(); }

  // A new channel to the server (own connection), with a 1 GiB receive limit.
  std::shared_ptr<grpc::Channel> NewChannel() const;
  inference::GRPCInferenceService::Stub& oip() { return *oip_; }
  tconv::v1::LayerService::Stub& layers() { return *layers_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }

 private:
  TestServer() = default;
  TempDir scratch_;  // destroyed last
  std::string repository_;
  RecordingObserver observer_;
  std::unique_ptr<LayerManager> manager_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> oip_;
  std::unique_ptr<tconv::v1::LayerService::Stub> layers_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// The grpc::Status of a client call as an absl::Status, for the status matchers.
absl::Status ToAbsl(const grpc::Status& status);

// A client context whose deadline is `timeout` from now (every test call is bounded).
std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30));

// A CreateLayerRequest for `config_json` with initializer-drawn weights.
tconv::v1::CreateLayerRequest SeededLayer(const std::string& name, const std::string& config_json,
                                          int64_t in_channels, uint64_t seed);
// A ModelInferRequest with one raw FP32 input "input".
inference::ModelInferRequest RawInfer(const std::string& model, const std::vector<int64_t>& shape,
                                      const std::vector<float>& values);
// Replicable values in [-1, 1).
std::vector<float> RandomValues(int64_t count, uint64_t seed);
// The floats of raw_output_contents(0).
std::vector<float> RawOutput(const inference::ModelInferResponse& response);

absl::Status CreateLayer(TestServer& server, const tconv::v1::CreateLayerRequest& request);
absl::StatusOr<inference::ModelInferResponse> Infer(TestServer& server,
                                                    const inference::ModelInferRequest& request,
                                                    absl::Duration timeout = absl::Seconds(30));
grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(TestServer& server,
                                                              const std::string& service);

}  // namespace tconv::server::testing

#endif  // TCONV_TESTS_TESTING_TEST_SERVER_H_
