// Bearer tokens and the control-plane peer policy end to end, per RPC kind: which calls need
// the token, which stay open, and who may mutate without one.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "server/grpc/layer_codec.h"
#include "tests/security/security_fixture.h"

namespace tconv::server::security_testing {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

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
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("--allow_remote_control")));
  EXPECT_THAT(refused.message(), HasSubstr("--auth_token_file"));
  EXPECT_THAT(Create(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));  // replace
  EXPECT_THAT(Delete(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Unload(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Load(channel, "gen"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(server_->LayerNames(), ::testing::ElementsAre("gen"));

  // Inference, metadata, listing and health are not mutations.
  EXPECT_OK(Infer(channel, "gen"));
  tconv::v1::ListLayersResponse list;
  EXPECT_OK(ToAbsl(
      tconv::v1::LayerService::NewStub(channel)->ListLayers(CallContext().get(), {}, &list)));
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

}  // namespace
}  // namespace tconv::server::security_testing
