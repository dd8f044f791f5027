// `tconv conformance --server ADDR FILE...`: the conformance runner's backend that sends every
// case through a running tconv-server. Each case gets a temporary layer (a unique name) created
// with the case's config and weights, runs one ModelInfer and is deleted again, so a server
// that serves other layers is left as it was found.
#ifndef TCONV_CLIENT_TOOL_SERVER_BACKEND_H_
#define TCONV_CLIENT_TOOL_SERVER_BACKEND_H_

#include <cstdint>
#include <string>

#include "conformance/conformance.h"
#include "flags.h"
#include "tconv/client/client.h"

namespace tconv::tool {

class ServerBackend : public ConformanceBackend {
 public:
  // `client` must outlive the backend. Temporary layers are named "<prefix>-<n>".
  ServerBackend(client::Client& client, client::CallOptions call, std::string prefix)
      : client_(client), call_(call), prefix_(std::move(prefix)) {}

  // CreateLayer (the case's kernel and bias, or initializer weights with seed 0 when the case
  // has none), ModelInfer (the case's input, or zeros), DeleteLayer. A refusal is returned with
  // the server's status code; a layer that cannot be deleted afterwards fails the case.
  absl::StatusOr<ConformanceOutput> Run(const ConformanceCase& c) override;

 private:
  client::Client& client_;
  const client::CallOptions call_;
  const std::string prefix_;
  int64_t cases_ = 0;
};

// Runs the files named by the positional arguments through the server of --server (with
// --timeout per call); prints like the local mode. Returns the exit status.
int RunServerConformance(const Flags& flags);

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_SERVER_BACKEND_H_
