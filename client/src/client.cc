// Client construction, the status conversion and the control plane (tconv.v1.LayerService).
#include "tconv/client/client.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "convert.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "stubs.h"
#include "tconv/status/status_macros.h"

namespace tconv::client {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  const int code = static_cast<int>(status.error_code());
  if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(
        absl::StrCat("gRPC status code ", code, ": ", status.error_message()));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

void PrepareContext(const Options& options, const CallOptions& call, grpc::ClientContext& context) {
  const absl::Duration timeout = call.timeout.value_or(options.default_timeout);
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  for (const auto& [key, value] : options.metadata) context.AddMetadata(key, value);
}

namespace {

// gRPC's rules for custom metadata: lower-case keys of [0-9a-z_.-]; printable ASCII values
// unless the key ends in "-bin". gRPC refuses other metadata only once a call is made;
// checking at Create gives one clear error instead.
absl::Status ValidateMetadata(const std::vector<std::pair<std::string, std::string>>& metadata) {
  for (const auto& [key, value] : metadata) {
    const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    });
    const bool binary = key.size() > 4 && key.compare(key.size() - 4, 4, "-bin") == 0;
    const bool value_ok = binary || std::all_of(value.begin(), value.end(),
                                                [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (!key_ok || !value_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("Options.metadata entry \"", key,
                       "\" is not valid gRPC metadata (keys: lower-case "
                       "[0-9a-z_.-]; values: printable ASCII unless the key ends in -bin)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Create(std::string_view target, Options options) {
  if (target.empty()) return absl::InvalidArgumentError("client target must not be empty");
  if (options.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("Options.default_timeout must be positive, got ",
                                                   absl::FormatDuration(options.default_timeout)));
  }
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Options.max_message_bytes must be positive, got ", options.max_message_bytes));
  }
  RETURN_IF_ERROR(ValidateMetadata(options.metadata));
  grpc::ChannelArguments args;
  // Every resolved address gets a connection and calls rotate over them: behind a Kubernetes
  // headless service (dns:///) that spreads one client's load over every replica.
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  // Responses of a few MB (a batch of decoder outputs) otherwise crawl through HTTP/2's 64 KiB
  // initial stream window, one window update per round trip: a 32-example cvae_d1 call went
  // from ~4.8 ms to ~3.0 ms end to end with 8 MiB (bench/service/README.md).
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials = options.channel_credentials
                                                              ? options.channel_credentials
                                                              : grpc::InsecureChannelCredentials();
  auto stubs = std::make_unique<Stubs>();
  stubs->channel = grpc::CreateCustomChannel(std::string(target), credentials, args);
  stubs->layers = tconv::v1::LayerService::NewStub(stubs->channel);
  stubs->inference = inference::GRPCInferenceService::NewStub(stubs->channel);
  stubs->health = grpc::health::v1::Health::NewStub(stubs->channel);
  return std::unique_ptr<Client>(
      new Client(std::string(target), std::move(options), std::move(stubs)));
}

Client::Client(std::string target, Options options, std::unique_ptr<Stubs> stubs)
    : target_(std::move(target)), options_(std::move(options)), stubs_(std::move(stubs)) {}

Client::~Client() = default;

absl::StatusOr<LayerInfo> Client::CreateLayer(const LayerSpec& spec, const CallOptions& call) {
  ASSIGN_OR_RETURN(const tconv::v1::CreateLayerRequest request,
                   internal::ToCreateLayerRequest(spec));
  ASSIGN_OR_RETURN(const tconv::v1::CreateLayerResponse response,
                   UnaryCall<tconv::v1::CreateLayerResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->layers->CreateLayer(context, request, out);
                       }));
  return internal::FromLayer(response.layer());
}

absl::StatusOr<LayerInfo> Client::GetLayer(std::string_view name, const CallOptions& call) {
  tconv::v1::GetLayerRequest request;
  request.set_name(std::string(name));
  ASSIGN_OR_RETURN(const tconv::v1::GetLayerResponse response,
                   UnaryCall<tconv::v1::GetLayerResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->layers->GetLayer(context, request, out);
                       }));
  return internal::FromLayer(response.layer());
}

absl::StatusOr<std::vector<LayerInfo>> Client::ListLayers(const CallOptions& call) {
  ASSIGN_OR_RETURN(LayerList list, ListLayersWithUnserved(call));
  return std::move(list.layers);
}

absl::StatusOr<LayerList> Client::ListLayersWithUnserved(const CallOptions& call) {
  const tconv::v1::ListLayersRequest request;
  ASSIGN_OR_RETURN(const tconv::v1::ListLayersResponse response,
                   UnaryCall<tconv::v1::ListLayersResponse>(
                       options_, call, [&](grpc::ClientContext* context, auto* out) {
                         return stubs_->layers->ListLayers(context, request, out);
                       }));
  LayerList list;
  list.layers.reserve(response.layers_size());
  for (const tconv::v1::Layer& layer : response.layers()) {
    list.layers.push_back(internal::FromLayer(layer));
  }
  for (const tconv::v1::UnservedLayer& layer : response.unserved()) {
    list.unserved.push_back({layer.name(), "", layer.state(), layer.reason()});
  }
  return list;
}

absl::Status Client::DeleteLayer(std::string_view name, const CallOptions& call) {
  tconv::v1::DeleteLayerRequest request;
  request.set_name(std::string(name));
  return UnaryCall<tconv::v1::DeleteLayerResponse>(options_, call,
                                                   [&](grpc::ClientContext* context, auto* out) {
                                                     return stubs_->layers->DeleteLayer(
                                                         context, request, out);
                                                   })
      .status();
}

}  // namespace tconv::client
