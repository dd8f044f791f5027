// Transport security of the server's gRPC port from PEM files: TLS with a certificate and key,
// optionally mutual TLS (clients must present a certificate signed by a given CA).
#ifndef TCONV_SERVER_GRPC_CREDENTIALS_H_
#define TCONV_SERVER_GRPC_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace tconv::server {

struct TlsFiles {
  std::string cert_file;  // PEM certificate chain of the server
  std::string key_file;   // PEM private key of that certificate
  // PEM CA certificates; non-empty = mutual TLS: a client without a certificate signed by one
  // of them cannot connect.
  std::string client_ca_file;
};

// Null (plaintext) when every file is empty; else TLS credentials. INVALID_ARGUMENT naming the
// flag when only one of cert and key is given, or a client CA without them; NOT_FOUND naming
// the path for a file that cannot be read, INVALID_ARGUMENT for one that holds no PEM block.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_CREDENTIALS_H_
