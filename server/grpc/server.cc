#include "server/grpc/server.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/layer_service.h"

namespace tconv::server {
namespace {

// Health answers for the whole server ("") and for each service by its full name.
constexpr const char* kHealthServices[] = {"", "inference.GRPCInferenceService",
                                           "tconv.v1.LayerService"};

// "0.0.0.0:0" with port 8123 -> "0.0.0.0:8123".
std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  return absl::StrCat(address.substr(0, colon == std::string::npos ? address.size() : colon), ":",
                      port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(Options options) {
  if (options.manager == nullptr) {
    return absl::InvalidArgumentError("Server::Options.manager is required");
  }
  if (options.grpc_address.empty()) {
    return absl::InvalidArgumentError("Server::Options.grpc_address is empty; expected HOST:PORT");
  }
  if (options.max_message_bytes < 1024 || options.max_message_bytes >= (int64_t{1} << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes is ", options.max_message_bytes,
                     "; expected at least 1024 and below 2147483648 (gRPC's limit)"));
  }
  return std::unique_ptr<Server>(new Server(std::move(options)));
}

Server::Server(Options options)
    : options_(std::move(options)),
      inference_service_(std::make_unique<InferenceService>(InferenceService::Options{
          options_.manager, &control_, &options_.manager->statistics(), options_.version,
          Access{options_.authorizer.get(), options_.control_peers}, options_.max_message_bytes,
          &drain_, &shared_memory_})),
      layer_service_(std::make_unique<LayerService>(
          LayerService::Options{options_.manager, &control_,
                                Access{options_.authorizer.get(), options_.control_peers}})) {}

Server::~Server() { Shutdown(absl::Now()); }

absl::Status Server::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options_.grpc_address,
      options_.credentials ? options_.credentials : grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
  // The receive window a client's request may fill before the server acknowledges it: large
  // tensors otherwise wait for a window update every 64 KiB (same setting in tconv::client).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  if (options_.max_connection_age != absl::InfiniteDuration()) {
    const int ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(options_.max_connection_age), INT_MAX));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, ms);
  }
  builder.RegisterService(inference_service_.get());
  builder.RegisterService(layer_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on grpc_address '",
                                               options_.grpc_address,
                                               "' (in use, or not an address of this machine?)"));
  }
  // The default health service starts SERVING; nothing is ready before MarkReady().
  SetHealth(false);
  address_ = WithPort(options_.grpc_address, port_);
  return absl::OkStatus();
}

void Server::SetHealth(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  for (const char* service : kHealthServices) health->SetServingStatus(service, serving);
}

int64_t Server::InFlightInferences() const { return drain_.InFlight(); }

void Server::MarkReady() {
  SetHealth(true);
  inference_service_->SetReady(true);
}

void Server::StartDraining() {
  if (server_ == nullptr) return;
  SetHealth(false);
  inference_service_->SetReady(false);
  drain_.StartRefusing();
  options_.manager->StartDraining();
  inference_service_->DrainStreams();
}

void Server::Shutdown(absl::Time deadline) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  StartDraining();
  drain_.Run(deadline, [this, deadline] { server_->Shutdown(absl::ToChronoTime(deadline)); });
  server_->Wait();
  // Every call has ended; an answer still computing keeps its region mapped until it is done.
  shared_memory_.Clear();
}

}  // namespace tconv::server
