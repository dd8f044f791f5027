// Throwaway PKI for the security tests, made with `openssl` in a temporary directory: a CA, a
// server certificate for 127.0.0.1 / localhost signed by it, a client certificate signed by it,
// and an unrelated second CA.
#ifndef TCONV_TESTS_SECURITY_TEST_CERTS_H_
#define TCONV_TESTS_SECURITY_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tconv::security_testing {

struct TestCerts {
  std::string dir;  // holds ca.pem, server.{pem,key}, client.{pem,key}, other_ca.pem
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  std::string Read(const std::string& name) const;
};

// Generates the certificates in `dir` (which must exist). INTERNAL with openssl's stderr when
// it fails.
absl::StatusOr<TestCerts> MakeTestCerts(const std::string& dir);

}  // namespace tconv::security_testing

#endif  // TCONV_TESTS_SECURITY_TEST_CERTS_H_
