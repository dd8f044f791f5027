// The data plane: the Open Inference Protocol (inference.GRPCInferenceService) over a
// LayerManager, with gRPC's callback API. ModelInfer hands its request to the layer's batcher
// and finishes from the batcher's completion callback, so no gRPC thread waits on a kernel run.
#ifndef TCONV_SERVER_GRPC_INFERENCE_SERVICE_H_
#define TCONV_SERVER_GRPC_INFERENCE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "inference/grpc_service.grpc.pb.h"
#include "server/core/layer_manager.h"
#include "server/core/metrics_observer.h"
#include "server/core/shared_memory_registry.h"
#include "server/grpc/auth.h"
#include "server/grpc/drain.h"
#include "server/grpc/serial_executor.h"
#include "server/grpc/shared_memory_codec.h"

namespace tconv::server {

class InferenceService final : public inference::GRPCInferenceService::CallbackService {
 public:
  struct Options {
    LayerManager* manager = nullptr;  // required; must outlive the service
    // Required; runs RepositoryModelLoad/Unload (repository writes); must outlive the service.
    SerialExecutor* control = nullptr;
    // Gets one OnRequest per ModelInfer; Server passes manager->statistics(), which counts it
    // and forwards it to the exporter. May be null.
    MetricsObserver* observer = nullptr;
    std::string version;  // ServerMetadata.version
    // Its authorizer may be null (no token required) and must outlive the service. Repository
    // load/unload are kControl; ServerLive/ServerReady are never checked (probes); the rest kRead.
    Access access;
    // The transport's send limit: ModelInfer refuses (RESOURCE_EXHAUSTED, before computing) a
    // request whose answer would not fit. 0 = no check.
    int64_t max_message_bytes = 0;
    // Required; admits each ModelInfer (refuses or holds it while draining); must outlive the
    // service.
    Drain* drain = nullptr;
    // The system shared memory regions (shared_memory_service.cc); null = the extension is off
    // (its RPCs answer UNIMPLEMENTED). Must outlive the service.
    SharedMemoryRegistry* shared_memory = nullptr;
  };
  explicit InferenceService(Options options);

  // Ready = the repository is loaded and the server is not draining. Until then ServerReady
  // and ModelReady answer false and ModelInfer answers UNAVAILABLE (while draining, as the
  // Drain decides). Starts not ready.
  void SetReady(bool ready);
  // The streams' part of a drain (stream_infer.cc): every open ModelStreamInfer stops reading,
  // writes the answers of the requests it has accepted, then ends with UNAVAILABLE; new
  // streams end at once. Irreversible. gRPC's Shutdown then waits for the streams' last writes.
  void DrainStreams();

  using CallContext = grpc::CallbackServerContext;
  grpc::ServerUnaryReactor* ServerLive(CallContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(CallContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(CallContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(CallContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(CallContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(CallContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;
  // In stream_infer.cc: each request goes through the same checks and the same batcher as a
  // ModelInfer; answers are written as they complete, matched by their request's id.
  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
  ModelStreamInfer(CallContext* context) override;
  // In model_config.cc (Triton's model-configuration extension).
  grpc::ServerUnaryReactor* ModelConfig(CallContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override;
  // In model_statistics.cc (Triton's statistics extension).
  grpc::ServerUnaryReactor* ModelStatistics(CallContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(CallContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(
      CallContext* context, const inference::RepositoryModelLoadRequest* request,
      inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(
      CallContext* context, const inference::RepositoryModelUnloadRequest* request,
      inference::RepositoryModelUnloadResponse* response) override;
  // In shared_memory_service.cc (Triton's system shared memory extension; the CUDA one answers
  // UNIMPLEMENTED). Register/unregister are kControl: without a token only local peers may make
  // the server map memory.
  grpc::ServerUnaryReactor* SystemSharedMemoryStatus(
      CallContext* context, const inference::SystemSharedMemoryStatusRequest* request,
      inference::SystemSharedMemoryStatusResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryRegister(
      CallContext* context, const inference::SystemSharedMemoryRegisterRequest* request,
      inference::SystemSharedMemoryRegisterResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryUnregister(
      CallContext* context, const inference::SystemSharedMemoryUnregisterRequest* request,
      inference::SystemSharedMemoryUnregisterResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryStatus(
      CallContext* context, const inference::CudaSharedMemoryStatusRequest* request,
      inference::CudaSharedMemoryStatusResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryRegister(
      CallContext* context, const inference::CudaSharedMemoryRegisterRequest* request,
      inference::CudaSharedMemoryRegisterResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryUnregister(
      CallContext* context, const inference::CudaSharedMemoryUnregisterRequest* request,
      inference::CudaSharedMemoryUnregisterResponse* response) override;

 private:
  class StreamReactor;  // stream_infer.cc

  // What ModelInfer and a streamed request share before the batcher: readiness, the protocol's
  // rules (DecodeInferRequest) and the answer-size limit; the decoded request then carries the
  // call's deadline and cancellation and `start` as its arrival. `shared_memory_output` gets the
  // region the answer goes to when the request binds its output to one.
  absl::StatusOr<InferenceRequest> PrepareInfer(
      CallContext* context, const inference::ModelInferRequest& request, absl::Time start,
      std::optional<SharedMemoryTensor>* shared_memory_output) const;
  // Records the finished ModelInfer and finishes its reactor (Drain::Done for admitted ones).
  void FinishInfer(grpc::ServerUnaryReactor* reactor, const std::string& model, absl::Time start,
                   const absl::Status& status, bool admitted = true);
  // Open streams, so that DrainStreams reaches them; false when draining (the stream must end).
  bool AddStream(const std::shared_ptr<StreamReactor>& stream);
  void RemoveStream(const StreamReactor* stream);

  const Options options_;
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::map<const StreamReactor*, std::weak_ptr<StreamReactor>> streams_ ABSL_GUARDED_BY(mu_);
  bool draining_streams_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_INFERENCE_SERVICE_H_
