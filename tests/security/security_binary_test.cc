// The real tconv-server binary with its --tls_* and --auth_* flags, the `tconv` tool as client.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/security/test_certs.h"
#include "tests/server/grpc/test_server.h"
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
  const std::string out = certs_->Path("server.out"), err = certs_->Path("server.err");
  EXPECT_EQ(security_testing::Spawn(
                {TCONV_SERVER_PATH, "--auth_inference", "--model_repository=" + repository.path()},
                out, err),
            1);
  EXPECT_THAT(certs_->Read("server.err"), HasSubstr("--auth_inference needs --auth_token_file"));

  const int pid = security_testing::SpawnDetached(
      {TCONV_SERVER_PATH, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
       "--model_repository=" + repository.path(), "--threads=1",
       "--tls_cert_file=" + certs_->Path("server.pem"),
       "--tls_key_file=" + certs_->Path("server.key"), "--auth_token_file=" + token_file,
       "--auth_inference"},
      out, err);
  ASSERT_GT(pid, 0);
  std::string address;
  for (int i = 0; i < 200 && address.empty(); ++i) {  // at most 20 s
    const std::string text = certs_->Read("server.out");
    const size_t at = text.find("grpc=");
    if (at != std::string::npos && text.find(' ', at) != std::string::npos) {
      address = text.substr(at + 5, text.find(' ', at) - at - 5);
    } else {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  auto tool = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {TCONV_TOOL_PATH, "list",      "--server",
                                     address,         "--timeout", "10s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return security_testing::Spawn(argv, certs_->Path("tool.out"), certs_->Path("tool.err"));
  };
  EXPECT_FALSE(address.empty()) << certs_->Read("server.err");
  if (!address.empty()) {
    EXPECT_EQ(tool({"--tls_ca_file", certs_->Path("ca.pem"), "--token_file", token_file}), 0)
        << certs_->Read("tool.err");
    EXPECT_EQ(tool({"--tls_ca_file", certs_->Path("ca.pem")}), 1);
    EXPECT_THAT(certs_->Read("tool.err"), HasSubstr("UNAUTHENTICATED"));
    EXPECT_EQ(tool({}), 1);  // plaintext against the TLS port
    EXPECT_THAT(certs_->Read("tool.err"), HasSubstr("UNAVAILABLE"));
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << certs_->Read("server.err");
}

}  // namespace
}  // namespace tconv::server
