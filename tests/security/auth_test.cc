// The pieces of transport security without a network: credentials from PEM files, token files
// and token rules.
#include "server/grpc/auth.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc/credentials.h"
#include "testing/test_server.h"
#include "tests/testing/status_matchers.h"

namespace tconv::server {
namespace {

using ::tconv::server::testing::TempDir;
using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CredentialsTest, RefusesIncompleteOrUnreadableFiles) {
  EXPECT_THAT(MakeServerCredentials({}), IsOkAndHolds(::testing::IsNull()));
  EXPECT_THAT(MakeServerCredentials({"cert.pem", "", ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls_key_file")));
  EXPECT_THAT(MakeServerCredentials({"", "", "ca.pem"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls_client_ca_file")));
  EXPECT_THAT(MakeServerCredentials({"/nonexistent/cert.pem", "/nonexistent/key.pem", ""}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/cert.pem")));
  TempDir dir;
  const std::string not_pem = dir.path() + "/cert.der";
  std::ofstream(not_pem) << "\x30\x82";
  EXPECT_THAT(MakeServerCredentials({not_pem, not_pem, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM")));
}

TEST(AuthTest, TokenFileAndTokenRules) {
  TempDir dir;
  const std::string path = dir.path() + "/token";
  std::ofstream(path) << "  abc.DEF-123\n";
  EXPECT_THAT(ReadTokenFile(path), IsOkAndHolds(std::string("abc.DEF-123")));
  std::ofstream(path, std::ios::trunc) << "two words\n";
  EXPECT_THAT(ReadTokenFile(path), StatusIs(absl::StatusCode::kInvalidArgument));
  std::ofstream(path, std::ios::trunc) << "\n";
  EXPECT_THAT(ReadTokenFile(path), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadTokenFile(dir.path() + "/missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Authorizer::Create({""}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tconv::server
