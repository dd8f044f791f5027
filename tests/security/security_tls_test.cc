// TLS and mutual TLS end to end: in-process servers on 127.0.0.1:0 called through raw generated
// stubs over real TLS channels, and the `tconv` tool with its --tls_ca_file and --token_file.
#include <fstream>
#include <string>
#include <vector>

#include "testing/subprocess.h"
#include "tests/security/security_fixture.h"

namespace tconv::server::security_testing {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

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
}  // namespace tconv::server::security_testing
