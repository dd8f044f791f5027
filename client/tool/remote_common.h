// What the subcommands that talk to a server share: connecting with --server / --timeout,
// reporting failures and printing layers.
#ifndef TCONV_CLIENT_TOOL_REMOTE_COMMON_H_
#define TCONV_CLIENT_TOOL_REMOTE_COMMON_H_

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "flags.h"
#include "subcommand.h"
#include "tconv/client/client.h"

namespace tconv::tool {

// tconv-server's default --grpc_address, reached from the same host.
inline constexpr std::string_view kDefaultServer = "127.0.0.1:8001";
inline constexpr std::string_view kRemoteFlagsUsage =
    "[--server=HOST:PORT (default 127.0.0.1:8001)] [--timeout=DURATION (default 30s)]";
// Transport security of every remote subcommand: TLS trusting --tls_ca_file (else the system's
// roots), a client certificate for mutual TLS, and a bearer token read from a file (never
// given on the command line, where other users could read it).
inline constexpr std::string_view kSecurityFlagsUsage =
    "[--tls_ca_file=PEM] [--tls_cert_file=PEM --tls_key_file=PEM] [--token_file=FILE]";
inline constexpr FlagSpec kSecurityFlags[] = {
    {"tls_ca_file"}, {"tls_cert_file"}, {"tls_key_file"}, {"token_file"}};
// The --help of the flags every remote subcommand takes (printed after its own).
inline constexpr std::string_view kRemoteFlagsHelp =
    R"(connection flags (every command that talks to a server):
  --server=HOST:PORT     the server's gRPC address (default 127.0.0.1:8001)
  --timeout=DURATION     deadline of each call: 30s, 500ms, 2m or seconds (default 30s)
  --tls_ca_file=PEM      use TLS, trusting these CA certificates (without it: plaintext, unless
                         --tls_cert_file is given; then the system's roots are trusted)
  --tls_cert_file=PEM    client certificate for mutual TLS (with --tls_key_file)
  --tls_key_file=PEM     the private key of --tls_cert_file
  --token_file=FILE      send the bearer token in FILE ("authorization: Bearer ..."); a file,
                         never the token itself, so that other users cannot read it in `ps`
)";

struct Remote {
  std::unique_ptr<client::Client> client;
  client::CallOptions call;  // the --timeout of every call
};

// Reads --server, --timeout ("30s", "500ms", "2m", or seconds as a number) and kSecurityFlags.
// INVALID_ARGUMENT for a bad timeout, a client certificate without its key or an empty token
// file; NOT_FOUND for a file that cannot be read.
absl::StatusOr<Remote> Connect(const Flags& flags);

// Prints "tconv <command>: <CODE>: <message>" to stderr; returns kExitFailure.
int ReportFailure(std::string_view command, const absl::Status& status);
// For a local file that cannot be read or written (nothing to do with the server; the message
// says "local file"): prints "tconv <command>: <message>" without a gRPC code; returns
// kExitFailure.
int ReportLocalFailure(std::string_view command, const absl::Status& status);
// Prints "tconv <command>: <message>" and the usage line to stderr; returns kExitUsage.
int ReportUsage(std::string_view command, std::string_view usage, std::string_view message);

// "[1, 7, 7, 256]"; -1 is printed as "?".
std::string FormatShape(absl::Span<const int64_t> shape);
// One line per layer for `list`; the full record (with its config JSON) for `get`/`create`.
void PrintLayerLine(const client::LayerInfo& layer, std::ostream& out);
void PrintLayerDetails(const client::LayerInfo& layer, std::ostream& out);
// "NAME  UNAVAILABLE  reason" for a repository folder (`list`, `index`).
void PrintUnservedLine(const client::RepositoryModel& model, std::ostream& out);

// The parsed flags and the connection of a remote subcommand.
struct Invocation {
  Flags flags;
  Remote remote;
};
// Parses `args` against `specs` plus --server, --timeout and kSecurityFlags, refuses
// positional arguments, and connects. On failure prints the usage error, sets `exit_status`
// and returns nullopt.
std::optional<Invocation> StartRemote(const Subcommand& command,
                                      const std::vector<std::string>& args,
                                      std::vector<FlagSpec> specs, int& exit_status);
// The value of a required flag, or nullopt after reporting the usage error.
std::optional<std::string> RequiredFlag(const Subcommand& command, const Flags& flags,
                                        std::string_view name, int& exit_status);

// The whole local file; NOT_FOUND (saying it is a local file) when it cannot be opened.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);
// Writes (or overwrites) the file; INVALID_ARGUMENT / DATA_LOSS naming the path on failure.
absl::Status WriteBinaryFile(const std::string& path, std::string_view bytes);

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_REMOTE_COMMON_H_
