// The security tests' fixture: one throwaway PKI per test suite (test_certs.h), a TestServer
// with TLS / mutual TLS / a token / a peer policy, and one helper per RPC kind, each bounded in
// time and sending "authorization: <value>" when given one.
#ifndef TCONV_TESTS_SECURITY_SECURITY_FIXTURE_H_
#define TCONV_TESTS_SECURITY_SECURITY_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/grpc/auth.h"
#include "server/grpc/credentials.h"
#include "server/grpc/peer_policy.h"
#include "testing/test_server.h"
#include "tests/security/test_certs.h"
#include "tests/testing/status_matchers.h"

namespace tconv::server::security_testing {

using ::tconv::security_testing::MakeTestCerts;
using ::tconv::security_testing::TestCerts;
using ::tconv::server::testing::Context;
using ::tconv::server::testing::RawInfer;
using ::tconv::server::testing::SeededLayer;
using ::tconv::server::testing::TempDir;
using ::tconv::server::testing::TestServer;
using ::tconv::server::testing::ToAbsl;

inline constexpr char kToken[] = "tok-3f9a1c7e";
inline constexpr char kConfig[] = R"({"filters": 2, "kernel_size": 3, "strides": 2})";
inline constexpr absl::Duration kCallTimeout = absl::Seconds(10);

struct Security {
  TlsFiles tls;        // all empty = plaintext
  bool token = false;  // require kToken on the control plane
  bool protect_reads = false;
  ControlPeerPolicy peers = {};  // who may mutate without a token
};

// A context bounded in time, with "authorization: <value>" unless `authorization` is empty.
inline std::unique_ptr<grpc::ClientContext> CallContext(const std::string& authorization = "") {
  auto context = Context(kCallTimeout);
  if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  return context;
}

inline const std::string kRight = std::string("Bearer ") + kToken;
inline const std::string kWrong = "Bearer tok-3f9a1c7f";

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<TestCerts> certs = MakeTestCerts(dir_->path());
    ASSERT_OK(certs);
    certs_ = new TestCerts(*std::move(certs));
  }
  static void TearDownTestSuite() {
    delete certs_;
    delete dir_;
  }

  // A TestServer (one batch thread) with `security`.
  void Serve(const Security& security) {
    TestServer::Options options;
    options.threads = 1;
    auto credentials = MakeServerCredentials(security.tls);
    ASSERT_OK(credentials);
    options.credentials = *std::move(credentials);
    options.control_peers = security.peers;
    if (security.token) {
      auto authorizer = Authorizer::Create({kToken, security.protect_reads});
      ASSERT_OK(authorizer);
      options.authorizer = std::make_shared<const Authorizer>(*std::move(authorizer));
    }
    absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Start(options);
    ASSERT_OK(server);
    server_ = *std::move(server);
  }
  static TlsFiles ServerTls(bool mutual = false) {
    return {certs_->Path("server.pem"), certs_->Path("server.key"),
            mutual ? certs_->Path("ca.pem") : ""};
  }
  // A fresh channel (own connection) with `credentials`, null = plaintext.
  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    static int unique = 0;
    args.SetInt("tconv_test_unique_channel", unique++);
    return grpc::CreateCustomChannel(
        server_->address(), credentials ? credentials : grpc::InsecureChannelCredentials(), args);
  }
  static std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca,
                                                       bool client_cert = false) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = certs_->Read(ca);
    if (client_cert) {
      options.pem_cert_chain = certs_->Read("client.pem");
      options.pem_private_key = certs_->Read("client.key");
    }
    return grpc::SslCredentials(options);
  }

  // grpc.health.v1 Check of the whole server over `channel`, without a token.
  static absl::Status Health(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status =
        grpc::health::v1::Health::NewStub(channel)->Check(CallContext().get(), request, &response);
    if (status.ok() && response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::InternalError("health is not SERVING");
    }
    return ToAbsl(status);
  }
  absl::Status Create(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                      const std::string& authorization = "") {
    tconv::v1::CreateLayerResponse response;
    return ToAbsl(tconv::v1::LayerService::NewStub(channel)->CreateLayer(
        CallContext(authorization).get(), SeededLayer(name, kConfig, 3, 7), &response));
  }
  absl::Status Delete(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                      const std::string& authorization = "") {
    tconv::v1::DeleteLayerRequest request;
    request.set_name(name);
    tconv::v1::DeleteLayerResponse response;
    return ToAbsl(tconv::v1::LayerService::NewStub(channel)->DeleteLayer(
        CallContext(authorization).get(), request, &response));
  }
  absl::Status Infer(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                     const std::string& authorization = "") {
    inference::ModelInferResponse response;
    grpc::Status status = inference::GRPCInferenceService::NewStub(channel)->ModelInfer(
        CallContext(authorization).get(),
        RawInfer(name, {1, 4, 4, 3}, std::vector<float>(48, 0.5f)), &response);
    if (status.ok() && response.raw_output_contents_size() != 1) {
      return absl::InternalError("ModelInfer answered OK without an output");
    }
    return ToAbsl(status);
  }
  // One request on a ModelStreamInfer stream: the stream's status, or INTERNAL when it ended
  // OK without exactly one good answer.
  absl::Status StreamInfer(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                           const std::string& authorization = "") {
    auto context = CallContext(authorization);
    auto stream =
        inference::GRPCInferenceService::NewStub(channel)->ModelStreamInfer(context.get());
    stream->Write(RawInfer(name, {1, 4, 4, 3}, std::vector<float>(48, 0.5f)));
    stream->WritesDone();
    int good = 0;
    inference::ModelStreamInferResponse answer;
    while (stream->Read(&answer)) {
      if (answer.error_message().empty() && answer.infer_response().raw_output_contents_size() == 1)
        ++good;
    }
    grpc::Status status = stream->Finish();
    if (status.ok() && good != 1) return absl::InternalError("the stream ended without an answer");
    return ToAbsl(status);
  }
  absl::Status Load(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                    const std::string& authorization = "") {
    return RepositoryCall<inference::RepositoryModelLoadRequest,
                          inference::RepositoryModelLoadResponse>(
        &inference::GRPCInferenceService::Stub::RepositoryModelLoad, channel, name, authorization);
  }
  absl::Status Unload(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                      const std::string& authorization = "") {
    return RepositoryCall<inference::RepositoryModelUnloadRequest,
                          inference::RepositoryModelUnloadResponse>(
        &inference::GRPCInferenceService::Stub::RepositoryModelUnload, channel, name,
        authorization);
  }
  // One OIP repository RPC (load or unload) of model `name`.
  template <typename Request, typename Response, typename Rpc>
  static absl::Status RepositoryCall(Rpc rpc, const std::shared_ptr<grpc::Channel>& channel,
                                     const std::string& name, const std::string& authorization) {
    Request request;
    request.set_model_name(name);
    Response response;
    auto stub = inference::GRPCInferenceService::NewStub(channel);
    return ToAbsl(((*stub).*rpc)(CallContext(authorization).get(), request, &response));
  }

  static inline TempDir* dir_ = nullptr;
  static inline TestCerts* certs_ = nullptr;
  std::unique_ptr<TestServer> server_;
};

}  // namespace tconv::server::security_testing

#endif  // TCONV_TESTS_SECURITY_SECURITY_FIXTURE_H_
