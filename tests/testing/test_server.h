// An in-process tconv server on 127.0.0.1:0 with its own temporary model repository, and raw
// generated stubs to call it (the tests do not depend on the client library).
#ifndef TCONV_TESTS_SERVER_GRPC_TEST_SERVER_H_
#define TCONV_TESTS_SERVER_GRPC_TEST_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "inference/grpc_service.grpc.pb.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/core/metrics_observer.h"
#include "server/grpc/server.h"
#include "tconv/v1/layer_service.grpc.pb.h"

namespace tconv::server::testing {

// Counts inference RPCs by (layer, code), as the server reports them.
class RecordingObserver final : public MetricsObserver {
 public:
  void OnRequest(std::string_view layer, absl::StatusCode code, absl::Duration) override;
  void OnBatch(std::string_view layer, int64_t batch_size, absl::Duration, const absl::Duration*,
               int64_t) override;
  void OnQueueDepth(std::string_view layer, int64_t depth) override;
  void OnLayerAdded(std::string_view) override {}
  void OnLayerRemoved(std::string_view) override {}
  int64_t Count(const std::string& layer, absl::StatusCode code) const;
  // Examples the kernel ran for `layer`.
  int64_t Computed(const std::string& layer) const;
  // The largest kernel run of `layer`, in examples (0 before any).
  int64_t LargestBatch(const std::string& layer) const;
  // Examples waiting in `layer`'s queue, as last reported.
  int64_t QueueDepth(const std::string& layer) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, absl::StatusCode>, int64_t> counts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> computed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> largest_batch_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> queue_depth_ ABSL_GUARDED_BY(mu_);
};

// A fresh, empty directory under the test's temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TestServer {
 public:
  struct Options {
    std::string repository_dir;  // required
    BatchingOptions batching;
    int threads = 2;
    int64_t max_message_bytes = int64_t{256} << 20;
    bool mark_ready = true;  // false: started but not ready (health NOT_SERVING)
  };
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(Options options);
  ~TestServer();

  Server& server() { return *server_; }
  LayerManager& manager() { return *manager_; }
  RecordingObserver& observer() { return observer_; }
  const std::string& address() const { return server_->address(); }

  // A new channel to the server (own connection), with a 1 GiB receive limit.
  std::shared_ptr<grpc::Channel> NewChannel() const;
  inference::GRPCInferenceService::Stub& oip() { return *oip_; }
  tconv::v1::LayerService::Stub& layers() { return *layers_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }

 private:
  TestServer() = default;
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

#endif  // TCONV_TESTS_SERVER_GRPC_TEST_SERVER_H_
