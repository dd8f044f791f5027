#include "tests/security/test_certs.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

extern char** environ;

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

int SpawnDetached(std::vector<std::string> argv, const std::string& out_path,
                  const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const bool started = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0;
  posix_spawn_file_actions_destroy(&actions);
  return started ? pid : -1;
}

int Spawn(std::vector<std::string> argv, const std::string& out_path, const std::string& err_path) {
  const int pid = SpawnDetached(std::move(argv), out_path, err_path);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

absl::StatusOr<TestCerts> MakeTestCerts(const std::string& dir) {
  TestCerts certs{dir};
  const std::string script = absl::StrCat("cd '", dir, "' && ", kScript);
  const int code = Spawn({"/bin/sh", "-c", script, "sh", TCONV_OPENSSL_PATH},
                         certs.Path("openssl.out"), certs.Path("openssl.err"));
  if (code != 0) {
    return absl::InternalError(
        absl::StrCat("openssl exited with ", code, ": ", certs.Read("openssl.err")));
  }
  return certs;
}

}  // namespace tconv::security_testing
