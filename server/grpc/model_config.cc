// Triton's model-configuration extension (GRPCInferenceService.ModelConfig): what a Triton
// client or perf_analyzer reads to size its requests. Kept apart from inference_service.cc so
// the Triton-only surface grows in its own files.
#include <array>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/oip_codec.h"
#include "server/grpc/status_edge.h"

namespace tconv::server {
namespace {

// Triton's backend field names the code that runs the model; tconv runs them all itself.
constexpr const char* kBackend = "tconv";

template <typename Tensor>
void SetTensorConfig(absl::string_view name, const std::array<int64_t, 3>& dims, Tensor* tensor) {
  tensor->set_name(std::string(name));
  tensor->set_data_type(inference::TYPE_FP32);
  for (int64_t dim : dims) tensor->add_dims(dim);
}

// max_batch_size > 0, so by Triton's convention dims leave out the batch dimension; height and
// width are free (-1): the layer accepts any spatial size within its limits.
void EncodeModelConfig(const LayerInfo& info, inference::ModelConfig* config) {
  config->set_name(info.name);
  // The same platform ModelMetadata reports, so the two answers never disagree.
  config->set_platform(std::string(kPlatform));
  config->set_backend(kBackend);
  config->set_max_batch_size(static_cast<int32_t>(info.batching.max_batch_size));
  const int64_t in = info.in_channels;
  const int64_t out = info.config.filters;
  const bool last = info.config.data_format == DataFormat::kChannelsLast;
  using Dims = std::array<int64_t, 3>;
  SetTensorConfig(kInputName, last ? Dims{-1, -1, in} : Dims{in, -1, -1}, config->add_input());
  SetTensorConfig(kOutputName, last ? Dims{-1, -1, out} : Dims{out, -1, -1}, config->add_output());
  config->mutable_dynamic_batching()->set_max_queue_delay_microseconds(
      static_cast<uint64_t>(absl::ToInt64Microseconds(info.batching.batch_timeout)));
  // One executor pool on the CPU serves every layer.
  auto* group = config->add_instance_group();
  group->set_name(info.name);
  group->set_kind(inference::ModelInstanceGroup::KIND_CPU);
  group->set_count(1);
}

}  // namespace

grpc::ServerUnaryReactor* InferenceService::ModelConfig(
    CallContext* context, const inference::ModelConfigRequest* request,
    inference::ModelConfigResponse* response) {
  if (auto* refused = FinishIfUnauthorized(options_.access, context, Authorizer::Scope::kRead)) {
    return refused;
  }
  const absl::StatusOr<LayerInfo> info = options_.manager->GetLayer(request->name());
  absl::Status status = info.status();
  if (status.ok()) status = CheckLayerVersion(*info, request->version());
  if (status.ok()) EncodeModelConfig(*info, response->mutable_config());
  return FinishNow(context, status);
}

}  // namespace tconv::server
