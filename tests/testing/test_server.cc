#include "testing/test_server.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server::testing {

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(Options options) {
  std::unique_ptr<TestServer> test(new TestServer());
  BatchExecutor::Options executor_options;
  executor_options.threads = options.threads;
  ASSIGN_OR_RETURN(auto executor, BatchExecutor::Create(executor_options));
  LayerManager::Options manager_options;
  test->repository_ =
      options.repository_dir.empty() ? test->dir() + "/repository" : options.repository_dir;
  manager_options.repository_dir = test->repository_;
  manager_options.default_batching = options.batching;
  manager_options.executor = std::move(executor);
  manager_options.observer = &test->observer_;
  ASSIGN_OR_RETURN(test->manager_, LayerManager::Create(std::move(manager_options)));
  Server::Options server_options;
  server_options.grpc_address = options.grpc_address;
  server_options.max_message_bytes = options.max_message_bytes;
  server_options.manager = test->manager_.get();
  server_options.version = "test";
  server_options.credentials = options.credentials;
  server_options.authorizer = options.authorizer;
  server_options.control_peers = options.control_peers;
  ASSIGN_OR_RETURN(test->server_, Server::Create(std::move(server_options)));
  RETURN_IF_ERROR(test->server_->Start());
  if (options.mark_ready) test->server_->MarkReady();
  auto channel = test->NewChannel();
  test->oip_ = inference::GRPCInferenceService::NewStub(channel);
  test->layers_ = tconv::v1::LayerService::NewStub(channel);
  test->health_ = grpc::health::v1::Health::NewStub(channel);
  return test;
}

TestServer::~TestServer() {
  server_->Shutdown(absl::Now() + absl::Seconds(10));
  server_.reset();
  manager_.reset();
}

std::vector<std::string> TestServer::LayerNames() const {
  std::vector<std::string> names;
  for (const LayerInfo& info : manager_->ListLayers()) names.push_back(info.name);
  return names;
}

std::shared_ptr<grpc::Channel> TestServer::NewChannel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  args.SetMaxSendMessageSize(1 << 30);
  static std::atomic<int> unique{0};
  args.SetInt("tconv_test_unique_channel", unique++);  // no subchannel sharing between channels
  return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
}

absl::Status ToAbsl(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

tconv::v1::CreateLayerRequest SeededLayer(const std::string& name, const std::string& config_json,
                                          int64_t in_channels, uint64_t seed) {
  tconv::v1::CreateLayerRequest request;
  request.set_name(name);
  request.set_config_json(config_json);
  request.set_in_channels(in_channels);
  request.set_seed(seed);
  return request;
}

inference::ModelInferRequest RawInfer(const std::string& model, const std::vector<int64_t>& shape,
                                      const std::vector<float>& values) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t dim : shape) input->add_shape(dim);
  request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(values.data()),
                                           values.size() * sizeof(float));
  return request;
}

std::vector<float> RandomValues(int64_t count, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = uniform(engine);
  return values;
}

std::vector<float> RawOutput(const inference::ModelInferResponse& response) {
  if (response.raw_output_contents_size() != 1) return {};
  const std::string& raw = response.raw_output_contents(0);
  std::vector<float> values(raw.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
  return values;
}

absl::Status CreateLayer(TestServer& server, const tconv::v1::CreateLayerRequest& request) {
  tconv::v1::CreateLayerResponse response;
  return ToAbsl(server.layers().CreateLayer(Context().get(), request, &response));
}

absl::StatusOr<inference::ModelInferResponse> Infer(TestServer& server,
                                                    const inference::ModelInferRequest& request,
                                                    absl::Duration timeout) {
  inference::ModelInferResponse response;
  RETURN_IF_ERROR(ToAbsl(server.oip().ModelInfer(Context(timeout).get(), request, &response)));
  return response;
}

grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(TestServer& server,
                                                              const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = server.health().Check(Context(absl::Seconds(10)).get(), request, &response);
  return status.ok() ? response.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
}

}  // namespace tconv::server::testing
