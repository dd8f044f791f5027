#include "tests/security/test_certs.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "testing/subprocess.h"

namespace tconv::security_testing {
namespace {

// P-256 keys (fast to make), valid one day. `req -x509` marks the CAs CA:TRUE (Debian's
// openssl.cnf v3_ca); the leaf certificates carry the names and usages gRPC checks.
constexpr const char* kScript = R"(set -e
O="$1"
key() { "$O" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key ca.key
"$O" req -x509 -new -key ca.key -out ca.pem -days 1 -subj /CN=tconv-test-ca
key other_ca.key
"$O" req -x509 -new -key other_ca.key -out other_ca.pem -days 1 -subj /CN=other-test-ca
key server.key
"$O" req -new -key server.key -out server.csr -subj /CN=localhost
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
"$O" x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
  -extfile server.ext -out server.pem
key client.key
"$O" req -new -key client.key -out client.csr -subj /CN=tconv-test-client
printf 'extendedKeyUsage=clientAuth\n' > client.ext
"$O" x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
  -extfile client.ext -out client.pem
)";

}  // namespace

std::string TestCerts::Read(const std::string& name) const {
  std::ifstream in(Path(name), std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<TestCerts> MakeTestCerts(const std::string& dir) {
  TestCerts certs{dir};
  const std::string script = absl::StrCat("cd '", dir, "' && ", kScript);
  const ::tconv::testing::ToolRun openssl =
      ::tconv::testing::RunTool({"/bin/sh", "-c", script, "sh", TCONV_OPENSSL_PATH}, dir);
  if (openssl.exit_status != 0) {
    return absl::InternalError(
        absl::StrCat("openssl exited with ", openssl.exit_status, ": ", openssl.err));
  }
  return certs;
}

}  // namespace tconv::security_testing
