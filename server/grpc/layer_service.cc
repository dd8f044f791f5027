#include "server/grpc/layer_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc/layer_codec.h"
#include "server/grpc/status_edge.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server {
namespace {

absl::StatusOr<Shape4> DecodeInputShape(const tconv::v1::GetLayerRequest& request) {
  if (request.input_shape_size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_shape has ", request.input_shape_size(),
                     " dimensions; expected 4 in the layer's data_format"));
  }
  return Shape4{request.input_shape(0), request.input_shape(1), request.input_shape(2),
                request.input_shape(3)};
}

// GetLayer's answer; the output shape only when the request gave an input shape.
absl::Status DescribeLayer(const LayerManager& manager, const tconv::v1::GetLayerRequest& request,
                           tconv::v1::GetLayerResponse& response) {
  ASSIGN_OR_RETURN(LayerInfo info, manager.GetLayer(request.name()));
  EncodeLayer(info, response.mutable_layer());
  if (request.input_shape_size() == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(Shape4 input_shape, DecodeInputShape(request));
  ASSIGN_OR_RETURN(auto layer, manager.FindLayer(request.name()));
  ASSIGN_OR_RETURN(Shape4 output_shape, layer->OutputShape(input_shape));
  for (int64_t dim : output_shape) response.add_output_shape(dim);
  return absl::OkStatus();
}

}  // namespace

LayerService::LayerService(Options options) : options_(options) {}

grpc::ServerUnaryReactor* LayerService::CreateLayer(CallContext* context,
                                                    const tconv::v1::CreateLayerRequest* request,
                                                    tconv::v1::CreateLayerResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kControl)) {
    return refused;
  }
  return FinishLater(*options_.control, context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(LayerSpec spec,
                     DecodeLayerSpec(*request, options_.manager->default_batching()));
    ASSIGN_OR_RETURN(LayerInfo info, options_.manager->CreateLayer(std::move(spec)));
    EncodeLayer(info, response->mutable_layer());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LayerService::GetLayer(CallContext* context,
                                                 const tconv::v1::GetLayerRequest* request,
                                                 tconv::v1::GetLayerResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  return FinishNow(context, DescribeLayer(*options_.manager, *request, *response));
}

grpc::ServerUnaryReactor* LayerService::ListLayers(CallContext* context,
                                                   const tconv::v1::ListLayersRequest*,
                                                   tconv::v1::ListLayersResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  std::vector<LayerInfo> layers = options_.manager->ListLayers();
  std::sort(layers.begin(), layers.end(),
            [](const LayerInfo& a, const LayerInfo& b) { return a.name < b.name; });
  for (const LayerInfo& info : layers) EncodeLayer(info, response->add_layers());
  // What failed to load (or was unloaded) is listed too, with its reason: otherwise a broken
  // folder would be invisible here. Unserved() never waits for a slow create, as this RPC.
  for (const RepositoryEntry& entry : options_.manager->Unserved()) {
    tconv::v1::UnservedLayer* unserved = response->add_unserved();
    unserved->set_name(entry.name);
    unserved->set_state("UNAVAILABLE");
    unserved->set_reason(entry.reason);
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* LayerService::DeleteLayer(CallContext* context,
                                                    const tconv::v1::DeleteLayerRequest* request,
                                                    tconv::v1::DeleteLayerResponse*) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kControl)) {
    return refused;
  }
  return FinishLater(*options_.control, context,
                     [this, request] { return options_.manager->DeleteLayer(request->name()); });
}

}  // namespace tconv::server
