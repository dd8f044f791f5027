#include "server/grpc/inference_service.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc/oip_codec.h"
#include "server/grpc/status_edge.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/repository/layer_name.h"

namespace tconv::server {
namespace {

// The server-wide features this implementation of the protocol offers, by Triton's names.
constexpr const char* kExtensions[] = {"model_repository", "model_configuration", "statistics"};

absl::Status NotReadyError() {
  return absl::UnavailableError("server is not ready: loading its repository or draining");
}

absl::Status CheckRepositoryName(const std::string& name) {
  if (name.empty()) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("unknown repository ", QuoteName(name),
                                          "; tconv has one repository, leave the name empty"));
}

absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// The answer's size is known from the input shape: refusing here costs microseconds, while
// computing first would spend the whole forward pass and then fail in the transport with
// gRPC's "Sent message larger than max" (counted as OK by the metrics, too).
absl::Status CheckAnswerFits(const LayerManager& manager,
                             const inference::ModelInferRequest& request,
                             const InferenceRequest& decoded, int64_t max_message_bytes) {
  if (max_message_bytes <= 0) return absl::OkStatus();
  auto layer = manager.FindLayer(request.model_name());
  if (!layer.ok()) return absl::OkStatus();  // Infer answers it (NOT_FOUND, or UNAVAILABLE)
  auto output_shape = (*layer)->OutputShape(decoded.shape);
  if (!output_shape.ok()) return absl::OkStatus();  // the batcher reports the bad shape
  const Shape4& out = *output_shape;
  const int64_t output_bytes =
      out[0] * out[1] * out[2] * out[3] * static_cast<int64_t>(sizeof(float));
  // The envelope around the tensor: echoed name and id, shape, datatype, field tags.
  constexpr int64_t kEnvelopeBytes = 256;
  const int64_t answer_bytes = output_bytes + kEnvelopeBytes +
                               static_cast<int64_t>(request.model_name().size()) +
                               static_cast<int64_t>(request.id().size());
  if (answer_bytes <= max_message_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the answer would be ", answer_bytes, " bytes (output shape (", out[0], ", ", out[1], ", ",
      out[2], ", ", out[3], "), ", output_bytes, " bytes of float32), above the server's limit of ",
      max_message_bytes, " bytes: send fewer examples per request or raise --max_message_bytes"));
}

// The output's shared memory region, when the request binds one (checked before computing).
absl::StatusOr<std::optional<SharedMemoryTensor>> BindOutput(
    const LayerManager& manager, const inference::ModelInferRequest& request,
    const InferenceRequest& decoded, const SharedMemoryRegistry* shared_memory) {
  bool bound = false;
  for (const auto& output : request.outputs()) bound |= UsesSharedMemory(output.parameters());
  if (!bound) return std::optional<SharedMemoryTensor>();
  ASSIGN_OR_RETURN(auto layer, manager.FindLayer(request.model_name()));
  ASSIGN_OR_RETURN(Shape4 output_shape, layer->OutputShape(decoded.shape));
  return BindSharedMemoryOutput(request, shared_memory, output_shape);
}

}  // namespace

InferenceService::InferenceService(Options options) : options_(std::move(options)) {}

void InferenceService::SetReady(bool ready) { ready_.store(ready); }

grpc::ServerUnaryReactor* InferenceService::ServerLive(CallContext* context,
                                                       const inference::ServerLiveRequest*,
                                                       inference::ServerLiveResponse* response) {
  response->set_live(true);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(CallContext* context,
                                                        const inference::ServerReadyRequest*,
                                                        inference::ServerReadyResponse* response) {
  response->set_ready(ready_.load());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(CallContext* context,
                                                       const inference::ModelReadyRequest* request,
                                                       inference::ModelReadyResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  if (absl::Status invalid = ValidateLayerName(request->name()); !invalid.ok()) {
    return FinishNow(context, invalid);
  }
  const absl::StatusOr<LayerInfo> info = options_.manager->GetLayer(request->name());
  response->set_ready(ready_.load() && info.ok() &&
                      CheckLayerVersion(*info, request->version()).ok());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(
    CallContext* context, const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  response->set_name("tconv");
  response->set_version(options_.version);
  for (const char* extension : kExtensions) response->add_extensions(extension);
  if (options_.shared_memory != nullptr) response->add_extensions("system_shared_memory");
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(
    CallContext* context, const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  const absl::StatusOr<LayerInfo> info = options_.manager->GetLayer(request->name());
  absl::Status status = info.status();
  if (status.ok()) status = CheckLayerVersion(*info, request->version());
  if (status.ok()) EncodeModelMetadata(*info, response);
  return FinishNow(context, status);
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(CallContext* context,
                                                       const inference::ModelInferRequest* request,
                                                       inference::ModelInferResponse* response) {
  const absl::Time start = absl::Now();
  if (absl::Status denied = Authorize(options_.access, *context, Authorizer::Scope::kRead);
      !denied.ok()) {
    // Counted like every other outcome: a flood of refused calls must show in the metrics.
    if (options_.observer != nullptr) {
      options_.observer->OnRequest(request->model_name(), denied.code(), absl::Now() - start);
    }
    return FinishNow(context, denied);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool admitted = options_.drain->Admit(
      DeadlineOf(*context), [this, reactor, request, start](const absl::Status& refused) {
        FinishInfer(reactor, request->model_name(), start, refused, /*admitted=*/false);
      });
  if (!admitted) return reactor;  // refused, or held until the drain answers it
  std::optional<SharedMemoryTensor> shared_memory_output;
  absl::StatusOr<InferenceRequest> decoded =
      PrepareInfer(context, *request, start, &shared_memory_output);
  if (!decoded.ok()) {
    FinishInfer(reactor, request->model_name(), start, decoded.status());
    return reactor;
  }
  // The kernel writes the answer's values straight where they go: the response's bytes, or the
  // client's shared memory region.
  decoded->output_buffer = shared_memory_output.has_value()
                               ? SharedMemoryOutputBuffer(*shared_memory_output)
                               : RawOutputBuffer(response);
  options_.manager->Infer(
      request->model_name(), *std::move(decoded),
      [this, reactor, request, response, start,
       output = std::move(shared_memory_output)](absl::StatusOr<InferenceResult> result) {
        absl::Status status = result.status();
        if (result.ok()) status = EncodeInferAnswer(*request, *result, output, response);
        FinishInfer(reactor, request->model_name(), start, status);
      });
  return reactor;
}

absl::StatusOr<InferenceRequest> InferenceService::PrepareInfer(
    CallContext* context, const inference::ModelInferRequest& request, absl::Time start,
    std::optional<SharedMemoryTensor>* shared_memory_output) const {
  if (!ready_.load()) return NotReadyError();
  ASSIGN_OR_RETURN(InferenceRequest decoded, DecodeInferRequest(request, options_.shared_memory));
  ASSIGN_OR_RETURN(*shared_memory_output,
                   BindOutput(*options_.manager, request, decoded, options_.shared_memory));
  if (!shared_memory_output->has_value()) {  // the answer carries the tensor
    RETURN_IF_ERROR(
        CheckAnswerFits(*options_.manager, request, decoded, options_.max_message_bytes));
  }
  decoded.deadline = DeadlineOf(*context);
  decoded.is_cancelled = [context] { return context->IsCancelled(); };
  decoded.enqueued = start;
  return decoded;
}

void InferenceService::FinishInfer(grpc::ServerUnaryReactor* reactor, const std::string& model,
                                   absl::Time start, const absl::Status& status, bool admitted) {
  if (options_.observer != nullptr) {
    options_.observer->OnRequest(model, status.code(), absl::Now() - start);
  }
  reactor->Finish(ToGrpcStatus(status));
  if (admitted) options_.drain->Done();
}

grpc::ServerUnaryReactor* InferenceService::RepositoryIndex(
    CallContext* context, const inference::RepositoryIndexRequest* request,
    inference::RepositoryIndexResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  absl::Status status = CheckRepositoryName(request->repository_name());
  if (status.ok()) {
    EncodeRepositoryIndex(options_.manager->Repository(), request->ready(), response);
  }
  return FinishNow(context, status);
}

grpc::ServerUnaryReactor* InferenceService::RepositoryModelLoad(
    CallContext* context, const inference::RepositoryModelLoadRequest* request,
    inference::RepositoryModelLoadResponse*) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kControl)) {
    return refused;
  }
  return FinishLater(*options_.control, context, [this, request]() -> absl::Status {
    RETURN_IF_ERROR(CheckRepositoryName(request->repository_name()));
    if (request->parameters().empty()) {
      return options_.manager->LoadFromRepository(request->model_name());
    }
    ASSIGN_OR_RETURN(LayerSpec spec, DecodeRepositoryLoad(*request));
    return options_.manager->CreateLayer(std::move(spec)).status();
  });
}

grpc::ServerUnaryReactor* InferenceService::RepositoryModelUnload(
    CallContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kControl)) {
    return refused;
  }
  return FinishLater(*options_.control, context, [this, request]() -> absl::Status {
    RETURN_IF_ERROR(CheckRepositoryName(request->repository_name()));
    return options_.manager->Unload(request->model_name());
  });
}

}  // namespace tconv::server
