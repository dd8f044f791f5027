// The real tconv-server binary with its --tls_* and --auth_* flags, the `tconv` tool as client.
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/subprocess.h"
#include "testing/test_server.h"
#include "tests/security/test_certs.h"
#include "tests/testing/status_matchers.h"

namespace tconv::server {
namespace {

using ::tconv::security_testing::MakeTestCerts;
using ::tconv::security_testing::TestCerts;
using ::tconv::server::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kToken[] = "tok-3f9a1c7e";

class SecurityBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestCerts> certs = MakeTestCerts(dir_.path());
    ASSERT_OK(certs);
    certs_ = std::make_unique<TestCerts>(*std::move(certs));
  }
  TempDir dir_;
  std::unique_ptr<TestCerts> certs_;
};

// The real tconv-server with its flags: TLS, a token file, --auth_inference; the tool as client.
TEST_F(SecurityBinaryTest, ServerBinaryTakesTlsAndTokenFlags) {
  const std::string token_file = certs_->Path("server_token");
  std::ofstream(token_file) << kToken << "\n";
  TempDir repository;
  const tconv::testing::ToolRun refused = tconv::testing::RunTool(
      {TCONV_SERVER_PATH, "--auth_inference", "--model_repository=" + repository.path()},
      certs_->dir, absl::Seconds(30));
  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_THAT(refused.err, HasSubstr("--auth_inference needs --auth_token_file"));

  const std::string err = certs_->Path("server.err");
  tconv::testing::Subprocess server(
      {TCONV_SERVER_PATH, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
       "--model_repository=" + repository.path(), "--threads=1",
       "--tls_cert_file=" + certs_->Path("server.pem"),
       "--tls_key_file=" + certs_->Path("server.key"), "--auth_token_file=" + token_file,
       "--auth_inference"},
      err);
  ASSERT_TRUE(server.started());
  std::string address;
  const std::string line = server.ReadLine(absl::Seconds(20));
  if (const size_t at = line.find("grpc="); at != std::string::npos) {
    address = line.substr(at + 5, line.find(' ', at) - at - 5);
  }
  auto tool = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {TCONV_TOOL_PATH, "list",      "--server",
                                     address,         "--timeout", "10s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return tconv::testing::RunTool(argv, certs_->dir);
  };
  EXPECT_FALSE(address.empty()) << certs_->Read("server.err");
  if (!address.empty()) {
    const tconv::testing::ToolRun trusted =
        tool({"--tls_ca_file", certs_->Path("ca.pem"), "--token_file", token_file});
    EXPECT_EQ(trusted.exit_status, 0) << trusted.err;
    const tconv::testing::ToolRun no_token = tool({"--tls_ca_file", certs_->Path("ca.pem")});
    EXPECT_EQ(no_token.exit_status, 1);
    EXPECT_THAT(no_token.err, HasSubstr("UNAUTHENTICATED"));
    const tconv::testing::ToolRun plaintext = tool({});  // plaintext against the TLS port
    EXPECT_EQ(plaintext.exit_status, 1);
    EXPECT_THAT(plaintext.err, HasSubstr("UNAVAILABLE"));
  }
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 0) << certs_->Read("server.err");
}

}  // namespace
}  // namespace tconv::server
