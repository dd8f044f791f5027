// The control-plane peer rule over the peer strings grpc::ServerContext::peer() produces.
#include "server/grpc/peer_policy.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tconv::server {
namespace {

TEST(PeerPolicyTest, LoopbackAndUnixSocketsAreLocal) {
  for (const std::string peer :
       {"ipv4:127.0.0.1:5", "ipv4:127.0.0.1:65535", "ipv4:127.1.2.3:40000", "ipv6:[::1]:5",
        "ipv6:[0:0:0:0:0:0:0:1]:5", "ipv6:[::ffff:127.0.0.1]:5", "ipv6:[::FFFF:127.0.0.1]:5",
        "unix:/tmp/tconv.sock", "unix:", "unix-abstract:tconv"}) {
    EXPECT_TRUE(IsLocalPeer(peer)) << peer;
  }
}

TEST(PeerPolicyTest, OtherAddressesAndUnparsableStringsAreRemote) {
  for (const std::string peer :
       {"ipv4:10.0.0.7:5", "ipv4:192.168.1.2:443", "ipv4:0.0.0.0:5", "ipv4:128.0.0.1:5",
        "ipv4:1.127.0.0:5", "ipv6:[::2]:5", "ipv6:[fe80::1]:5", "ipv6:[::ffff:10.0.0.1]:5",
        "ipv6:[::ffff:127.0.0.1:5", "ipv6:::1:5",
        // Malformed or spoof-shaped strings.
        "", "127.0.0.1:5", "ipv4:127.0.0.1", "ipv4:127.0.0.1:", "ipv4:127.0.0.1:x",
        "ipv4:127.0.0:5", "ipv4:127.0.0.1.2:5", "ipv4:127.0.0.256:5", "ipv4:127.0.0.+1:5",
        "ipv4:127.0.0.1 :5", "ipv4:localhost:5", "ipv6:[::1]", "IPV4:127.0.0.1:5",
        "ipv4:127.0.0.1:5\n", "vsock:1:2", "ipv6:[::ffff:127.0.0.1.5]:5"}) {
    EXPECT_FALSE(IsLocalPeer(peer)) << "\"" << peer << "\"";
  }
}

TEST(PeerPolicyTest, RemotePeersAreRefusedWithTheFix) {
  const absl::Status refused = CheckControlPeer("ipv4:10.0.0.7:5", {});
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(refused.message(), "--auth_token_file")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "--allow_remote_control")) << refused;
  EXPECT_EQ(CheckControlPeer("garbage", {}).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckControlPeer("ipv4:127.0.0.1:5", {}).ok());
  EXPECT_TRUE(CheckControlPeer("unix:/run/tconv.sock", {}).ok());
}

TEST(PeerPolicyTest, AllowRemoteControlAdmitsEveryPeer) {
  const ControlPeerPolicy allow{/*allow_remote_control=*/true};
  EXPECT_TRUE(CheckControlPeer("ipv4:10.0.0.7:5", allow).ok());
  EXPECT_TRUE(CheckControlPeer("garbage", allow).ok());
}

TEST(PeerPolicyTest, TreatLocalAsRemoteRefusesLoopback) {
  const ControlPeerPolicy policy{/*allow_remote_control=*/false, /*treat_local_as_remote=*/true};
  EXPECT_EQ(CheckControlPeer("ipv4:127.0.0.1:5", policy).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckControlPeer("ipv4:127.0.0.1:5", {true, true}).ok());
}

}  // namespace
}  // namespace tconv::server
