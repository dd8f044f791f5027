// TLS, mutual TLS and bearer tokens end to end: in-process servers on 127.0.0.1:0 called through
// raw generated stubs over real TLS channels, with certificates made by openssl for this run.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/grpc/auth.h"
#include "server/grpc/credentials.h"
#include "server/grpc/layer_codec.h"
#include "server/grpc/peer_policy.h"
#include "tconv/kernel/status_macros.h"
#include "tests/security/test_certs.h"
#include "testing/subprocess.h"
#include "testing/test_server.h"
#include "tests/testing/status_matchers.h"

namespace tconv::server {
namespace {

using ::tconv::security_testing::MakeTestCerts;
using ::tconv::security_testing::TestCerts;
using ::tconv::server::testing::Context;
using ::tconv::server::testing::RawInfer;
using ::tconv::server::testing::RecordingObserver;
using ::tconv::server::testing::SeededLayer;
using ::tconv::server::testing::TempDir;
using ::tconv::server::testing::ToAbsl;
using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kToken[] = "tok-3f9a1c7e";
constexpr char kConfig[] = R"({"filters": 2, "kernel_size": 3, "strides": 2})";
constexpr absl::Duration kCallTimeout = absl::Seconds(10);

struct Security {
  TlsFiles tls;        // all empty = plaintext
  bool token = false;  // require kToken on the control plane
  bool protect_reads = false;
  ControlPeerPolicy peers = {};  // who may mutate without a token
};

// One server with its own manager and repository; shut down by the destructor.
class SecureServer {
 public:
  static absl::StatusOr<std::unique_ptr<SecureServer>> Start(const Security& security) {
    auto served = std::unique_ptr<SecureServer>(new SecureServer());
    BatchExecutor::Options executor_options;
    executor_options.threads = 1;
    ASSIGN_OR_RETURN(auto executor, BatchExecutor::Create(executor_options));
    LayerManager::Options manager_options;
    manager_options.repository_dir = served->repository_.path();
    manager_options.executor = std::move(executor);
    manager_options.observer = &served->observer_;
    ASSIGN_OR_RETURN(served->manager_, LayerManager::Create(std::move(manager_options)));
    Server::Options options;
    options.grpc_address = "127.0.0.1:0";
    options.manager = served->manager_.get();
    ASSIGN_OR_RETURN(options.credentials, MakeServerCredentials(security.tls));
    options.control_peers = security.peers;
    if (security.token) {
      ASSIGN_OR_RETURN(Authorizer authorizer, Authorizer::Create({kToken, security.protect_reads}));
      options.authorizer = std::make_shared<const Authorizer>(std::move(authorizer));
    }
    ASSIGN_OR_RETURN(served->server_, Server::Create(std::move(options)));
    RETURN_IF_ERROR(served->server_->Start());
    served->server_->MarkReady();
    return served;
  }
  ~SecureServer() { server_->Shutdown(absl::Now() + absl::Seconds(5)); }

  const std::string& address() const { return server_->address(); }
  const std::string& repository() const { return repository_.path(); }
  LayerManager& manager() { return *manager_; }
  const RecordingObserver& observer() const { return observer_; }
  std::vector<std::string> LayerNames() const {
    std::vector<std::string> names;
    for (const LayerInfo& info : manager_->ListLayers()) names.push_back(info.name);
    return names;
  }

 private:
  SecureServer() = default;
  TempDir repository_;
  RecordingObserver observer_;
  std::unique_ptr<LayerManager> manager_;
  std::unique_ptr<Server> server_;
};

// A context bounded in time, with "authorization: <value>" unless `authorization` is empty.
std::unique_ptr<grpc::ClientContext> CallContext(const std::string& authorization = "") {
  auto context = Context(kCallTimeout);
  if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  return context;
}

const std::string kRight = std::string("Bearer ") + kToken;
const std::string kWrong = "Bearer tok-3f9a1c7f";

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

  void Serve(const Security& security) {
    absl::StatusOr<std::unique_ptr<SecureServer>> server = SecureServer::Start(security);
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
    inference::RepositoryModelLoadRequest request;
    request.set_model_name(name);
    inference::RepositoryModelLoadResponse response;
    return ToAbsl(inference::GRPCInferenceService::NewStub(channel)->RepositoryModelLoad(
        CallContext(authorization).get(), request, &response));
  }
  absl::Status Unload(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                      const std::string& authorization = "") {
    inference::RepositoryModelUnloadRequest request;
    request.set_model_name(name);
    inference::RepositoryModelUnloadResponse response;
    return ToAbsl(inference::GRPCInferenceService::NewStub(channel)->RepositoryModelUnload(
        CallContext(authorization).get(), request, &response));
  }

  static TempDir* dir_;
  static TestCerts* certs_;
  std::unique_ptr<SecureServer> server_;
};

TempDir* SecurityTest::dir_ = nullptr;
TestCerts* SecurityTest::certs_ = nullptr;

TEST_F(SecurityTest, TlsServesClientsThatTrustItsCa) {
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls()}));
  auto channel = Channel(Tls("ca.pem"));
  EXPECT_OK(Health(channel));
  EXPECT_OK(Create(channel, "gen"));
  EXPECT_OK(Infer(channel, "gen"));
}

TEST_F(SecurityTest, TlsRefusesClientsWithAnotherCaOrPlaintext) {
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls()}));
  EXPECT_THAT(Health(Channel(Tls("other_ca.pem"))), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Health(Channel(nullptr)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Create(Channel(nullptr), "gen"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(server_->LayerNames().empty());
}

TEST_F(SecurityTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls(/*mutual=*/true)}));
  EXPECT_THAT(Health(Channel(Tls("ca.pem"))), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Create(Channel(Tls("ca.pem")), "gen"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(server_->LayerNames().empty());
  auto channel = Channel(Tls("ca.pem", /*client_cert=*/true));
  EXPECT_OK(Health(channel));
  EXPECT_OK(Create(channel, "gen"));
}

TEST_F(SecurityTest, ControlPlaneNeedsTheRightToken) {
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls(), /*token=*/true}));
  auto channel = Channel(Tls("ca.pem"));
  EXPECT_THAT(Create(channel, "gen"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Create(channel, "gen", kWrong), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Create(channel, "gen", "Basic dG9rOg=="),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Create(channel, "gen", kToken), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(server_->LayerNames().empty());
  EXPECT_TRUE(std::filesystem::is_empty(server_->repository()));

  ASSERT_OK(Create(channel, "gen", kRight));
  EXPECT_THAT(Delete(channel, "gen"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Delete(channel, "gen", kWrong), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Unload(channel, "gen"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Unload(channel, "gen", kWrong), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(server_->LayerNames(), ::testing::ElementsAre("gen"));
  EXPECT_OK(Infer(channel, "gen"));  // still served

  // Inference and health stay open without --auth_inference.
  EXPECT_OK(Health(channel));
  EXPECT_OK(Delete(channel, "gen", kRight));
  EXPECT_TRUE(server_->LayerNames().empty());
}

TEST_F(SecurityTest, AuthInferenceProtectsInferenceButNotHealth) {
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls(), /*token=*/true, /*protect_reads=*/true}));
  auto channel = Channel(Tls("ca.pem"));
  ASSERT_OK(Create(channel, "gen", kRight));
  EXPECT_THAT(Infer(channel, "gen"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Infer(channel, "gen", kWrong), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(Infer(channel, "gen", kRight));
  // Refused calls are counted too (tconv_requests_total{code=...}).
  EXPECT_EQ(server_->observer().Count("gen", absl::StatusCode::kUnauthenticated), 1);
  EXPECT_EQ(server_->observer().Count("gen", absl::StatusCode::kPermissionDenied), 1);
  EXPECT_EQ(server_->observer().Count("gen", absl::StatusCode::kOk), 1);
  // Streams too: refused as they open, before any request is read.
  EXPECT_THAT(StreamInfer(channel, "gen"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(StreamInfer(channel, "gen", kWrong), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(StreamInfer(channel, "gen", kRight));
  EXPECT_EQ(server_->observer().Count("gen", absl::StatusCode::kOk), 2);

  inference::ModelMetadataRequest metadata;
  metadata.set_name("gen");
  inference::ModelMetadataResponse metadata_response;
  auto oip = inference::GRPCInferenceService::NewStub(channel);
  EXPECT_THAT(ToAbsl(oip->ModelMetadata(CallContext().get(), metadata, &metadata_response)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  tconv::v1::ListLayersResponse list;
  EXPECT_THAT(ToAbsl(tconv::v1::LayerService::NewStub(channel)->ListLayers(
                  CallContext(kWrong).get(), {}, &list)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(list.layers_size(), 0);

  // Probes need no token.
  EXPECT_OK(Health(channel));
  inference::ServerLiveResponse live;
  EXPECT_OK(ToAbsl(oip->ServerLive(CallContext().get(), {}, &live)));
  EXPECT_TRUE(live.live());
}

// Without a token, mutations come from this machine only. The test's client is on loopback, so
// the server is told to see loopback as remote: the same check a network peer meets.
constexpr ControlPeerPolicy kLoopbackAsRemote{/*allow_remote_control=*/false,
                                              /*treat_local_as_remote=*/true};

TEST_F(SecurityTest, LoopbackMayMutateWithoutTokenByDefault) {
  ASSERT_NO_FATAL_FAILURE(Serve({}));
  auto channel = Channel(nullptr);
  ASSERT_OK(Create(channel, "gen"));
  EXPECT_OK(Infer(channel, "gen"));
  EXPECT_OK(StreamInfer(channel, "gen"));  // no token configured: inference is open
  EXPECT_OK(Unload(channel, "gen"));
  EXPECT_OK(Load(channel, "gen"));
  EXPECT_OK(Delete(channel, "gen"));
  EXPECT_TRUE(server_->LayerNames().empty());
}

TEST_F(SecurityTest, RemoteMutationsWithoutTokenAreRefusedReadsStayOpen) {
  ASSERT_NO_FATAL_FAILURE(Serve({{}, false, false, kLoopbackAsRemote}));
  // The operator's layer, made server-side (as the repository would at start).
  absl::StatusOr<LayerSpec> spec = DecodeLayerSpec(SeededLayer("gen", kConfig, 3, 7), {});
  ASSERT_OK(spec);
  ASSERT_OK(server_->manager().CreateLayer(*std::move(spec)));
  auto channel = Channel(nullptr);

  const absl::Status refused = Create(channel, "other");
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr("--allow_remote_control")));
  EXPECT_THAT(refused.message(), HasSubstr("--auth_token_file"));
  EXPECT_THAT(Create(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));  // replace
  EXPECT_THAT(Delete(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Unload(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Load(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(server_->LayerNames(), ::testing::ElementsAre("gen"));

  // Inference, metadata, listing and health are not mutations.
  EXPECT_OK(Infer(channel, "gen"));
  tconv::v1::ListLayersResponse list;
  EXPECT_OK(ToAbsl(tconv::v1::LayerService::NewStub(channel)->ListLayers(CallContext().get(), {},
                                                                          &list)));
  EXPECT_EQ(list.layers_size(), 1);
  EXPECT_OK(Health(channel));
}

TEST_F(SecurityTest, AllowRemoteControlOrATokenAdmitsRemoteMutations) {
  ASSERT_NO_FATAL_FAILURE(
      Serve({{}, false, false, {/*allow_remote_control=*/true, /*treat_local_as_remote=*/true}}));
  auto channel = Channel(nullptr);
  ASSERT_OK(Create(channel, "gen"));
  EXPECT_OK(Unload(channel, "gen"));
  EXPECT_OK(Load(channel, "gen"));
  EXPECT_OK(Delete(channel, "gen"));

  // A token replaces the peer rule: the right token is enough from anywhere.
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls(), /*token=*/true, false, kLoopbackAsRemote}));
  channel = Channel(Tls("ca.pem"));
  EXPECT_THAT(Create(channel, "gen"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_OK(Create(channel, "gen", kRight));
  EXPECT_OK(Delete(channel, "gen", kRight));
}

TEST_F(SecurityTest, ToolUsesTlsCaAndTokenFiles) {
  ASSERT_NO_FATAL_FAILURE(Serve({ServerTls(), /*token=*/true, /*protect_reads=*/true}));
  ASSERT_OK(Create(Channel(Tls("ca.pem")), "gen", kRight));
  const std::string token_file = certs_->Path("token"), wrong_file = certs_->Path("wrong");
  std::ofstream(token_file) << kToken << "\n";
  std::ofstream(wrong_file) << "nope\n";
  auto tool = [&](const std::string& command, const std::string& tokens,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        TCONV_TOOL_PATH, command, "--server",      server_->address(),
        "--timeout",     "10s",   "--tls_ca_file", certs_->Path("ca.pem"),
        "--token_file",  tokens};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return tconv::testing::RunTool(argv, certs_->dir);
  };
  const tconv::testing::ToolRun listed = tool("list", token_file);
  EXPECT_EQ(listed.exit_status, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("gen"));
  const tconv::testing::ToolRun refused = tool("delete", wrong_file, {"--name", "gen"});
  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_THAT(refused.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(server_->LayerNames(), ::testing::ElementsAre("gen"));
  const tconv::testing::ToolRun deleted = tool("delete", token_file, {"--name", "gen"});
  EXPECT_EQ(deleted.exit_status, 0) << deleted.err;
  EXPECT_TRUE(server_->LayerNames().empty());
}

}  // namespace
}  // namespace tconv::server
