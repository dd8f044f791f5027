// The data plane (Open Inference Protocol) and the grpc.health.v1 check.
#include <memory>
#include <string>
#include <utility>

#include "convert.h"
#include "stubs.h"
#include "tconv/client/client.h"
#include "tconv/status/status_macros.h"

namespace tconv::client {
namespace {

template <typename Message>
Message Named(std::string_view name, std::string_view version) {
  Message message;
  message.set_name(std::string(name));
  message.set_version(std::string(version));
  return message;
}

// What one asynchronous ModelInfer owns until its completion callback has run.
struct AsyncInfer {
  grpc::ClientContext context;
  inference::ModelInferRequest request;
  inference::ModelInferResponse response;
  InferCallback done;
};

}  // namespace

std::string_view ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case ServingStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

absl::StatusOr<Tensor> Client::Infer(std::string_view layer, absl::Span<const float> input,
                                     absl::Span<const int64_t> shape, const CallOptions& call) {
  ASSIGN_OR_RETURN(const inference::ModelInferRequest request,
                   internal::ToInferRequest(layer, input, shape));
  ASSIGN_OR_RETURN(const inference::ModelInferResponse response,
                   UnaryCall<inference::ModelInferResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ModelInfer(context, request, out);
                       }));
  return internal::FromInferResponse(response);
}

void Client::InferAsync(std::string_view layer, absl::Span<const float> input,
                        absl::Span<const int64_t> shape, InferCallback done,
                        const CallOptions& call) {
  absl::StatusOr<inference::ModelInferRequest> request =
      internal::ToInferRequest(layer, input, shape);
  if (!request.ok()) {
    std::move(done)(request.status());
    return;
  }
  auto* state = new AsyncInfer;
  state->request = *std::move(request);
  state->done = std::move(done);
  PrepareContext(options_, call, state->context);
  stubs_->inference->async()->ModelInfer(
      &state->context, &state->request, &state->response, [state](const grpc::Status& status) {
        std::unique_ptr<AsyncInfer> owned(state);
        if (!status.ok()) {
          std::move(owned->done)(FromGrpcStatus(status));
        } else {
          std::move(owned->done)(internal::FromInferResponse(owned->response));
        }
      });
}

absl::StatusOr<bool> Client::ServerLive(const CallOptions& call) {
  const inference::ServerLiveRequest request;
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<inference::ServerLiveResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ServerLive(context, request, out);
                       }));
  return response.live();
}

absl::StatusOr<bool> Client::ServerReady(const CallOptions& call) {
  const inference::ServerReadyRequest request;
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<inference::ServerReadyResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ServerReady(context, request, out);
                       }));
  return response.ready();
}

absl::StatusOr<bool> Client::ModelReady(std::string_view name, std::string_view version,
                                        const CallOptions& call) {
  const auto request = Named<inference::ModelReadyRequest>(name, version);
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<inference::ModelReadyResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ModelReady(context, request, out);
                       }));
  return response.ready();
}

absl::StatusOr<ServerMetadata> Client::GetServerMetadata(const CallOptions& call) {
  const inference::ServerMetadataRequest request;
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<inference::ServerMetadataResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ServerMetadata(context, request, out);
                       }));
  return ServerMetadata{response.name(),
                        response.version(),
                        {response.extensions().begin(), response.extensions().end()}};
}

absl::StatusOr<ModelMetadata> Client::GetModelMetadata(std::string_view name,
                                                       std::string_view version,
                                                       const CallOptions& call) {
  const auto request = Named<inference::ModelMetadataRequest>(name, version);
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<inference::ModelMetadataResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->ModelMetadata(context, request, out);
                       }));
  ModelMetadata metadata{response.name(),
                         {response.versions().begin(), response.versions().end()},
                         response.platform(),
                         {},
                         {}};
  for (const auto& tensor : response.inputs()) {
    metadata.inputs.push_back(
        {tensor.name(), tensor.datatype(), {tensor.shape().begin(), tensor.shape().end()}});
  }
  for (const auto& tensor : response.outputs()) {
    metadata.outputs.push_back(
        {tensor.name(), tensor.datatype(), {tensor.shape().begin(), tensor.shape().end()}});
  }
  return metadata;
}

absl::StatusOr<std::vector<RepositoryModel>> Client::RepositoryIndex(bool ready_only,
                                                                     const CallOptions& call) {
  inference::RepositoryIndexRequest request;
  request.set_ready(ready_only);
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<inference::RepositoryIndexResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->inference->RepositoryIndex(context, request, out);
                       }));
  std::vector<RepositoryModel> models;
  for (const auto& model : response.models()) {
    models.push_back({model.name(), model.version(), model.state(), model.reason()});
  }
  return models;
}

absl::Status Client::RepositoryLoad(std::string_view name, const CallOptions& call) {
  inference::RepositoryModelLoadRequest request;
  request.set_model_name(std::string(name));
  return UnaryCall<inference::RepositoryModelLoadResponse>(
             options_, call,
             [&](grpc::ClientContext* context, auto* out) {
               return stubs_->inference->RepositoryModelLoad(context, request, out);
             })
      .status();
}

absl::Status Client::RepositoryUnload(std::string_view name, const CallOptions& call) {
  inference::RepositoryModelUnloadRequest request;
  request.set_model_name(std::string(name));
  return UnaryCall<inference::RepositoryModelUnloadResponse>(
             options_, call,
             [&](grpc::ClientContext* context, auto* out) {
               return stubs_->inference->RepositoryModelUnload(context, request, out);
             })
      .status();
}

absl::StatusOr<ServingStatus> Client::Health(std::string_view service, const CallOptions& call) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(std::string(service));
  ASSIGN_OR_RETURN(const auto response,
                   UnaryCall<grpc::health::v1::HealthCheckResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->health->Check(context, request, out);
                       }));
  switch (response.status()) {
    case grpc::health::v1::HealthCheckResponse::SERVING:
      return ServingStatus::kServing;
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING:
      return ServingStatus::kNotServing;
    case grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN:
      return ServingStatus::kServiceUnknown;
    default:
      return ServingStatus::kUnknown;
  }
}

}  // namespace tconv::client
