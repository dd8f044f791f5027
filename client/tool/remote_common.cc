#include "remote_common.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "subcommand.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::tool {
namespace {

// kSecurityFlags as client options: TLS when a CA or a client certificate is given.
absl::Status SetSecurity(const Flags& flags, client::Options& options) {
  const std::optional<std::string> ca = flags.Get("tls_ca_file");
  const std::optional<std::string> cert = flags.Get("tls_cert_file");
  const std::optional<std::string> key = flags.Get("tls_key_file");
  if (cert.has_value() != key.has_value()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (ca || cert) {
    grpc::SslCredentialsOptions ssl;  // empty pem_root_certs = the system's roots
    if (ca) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadTextFile(*ca));
    }
    if (cert) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadTextFile(*cert));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadTextFile(*key));
    }
    options.channel_credentials = grpc::SslCredentials(ssl);
  }
  if (const std::optional<std::string> token_file = flags.Get("token_file")) {
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(*token_file));
    const std::string token(absl::StripAsciiWhitespace(text));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file \"", *token_file, "\" holds no token"));
    }
    options.metadata.emplace_back("authorization", absl::StrCat("Bearer ", token));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Remote> Connect(const Flags& flags) {
  Remote remote;
  if (flags.Has("timeout")) {
    ASSIGN_OR_RETURN(remote.call.timeout, flags.GetDuration("timeout", absl::Seconds(30)));
  }
  const std::string server = flags.Get("server").value_or(std::string(kDefaultServer));
  client::Options options;
  RETURN_IF_ERROR(SetSecurity(flags, options));
  ASSIGN_OR_RETURN(remote.client, client::Client::Create(server, std::move(options)));
  return remote;
}

int ReportFailure(std::string_view command, const absl::Status& status) {
  std::cerr << "tconv " << command << ": " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return kExitFailure;
}

int ReportLocalFailure(std::string_view command, const absl::Status& status) {
  std::cerr << "tconv " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

std::optional<Invocation> StartRemote(const Subcommand& command,
                                      const std::vector<std::string>& args,
                                      std::vector<FlagSpec> specs, int& exit_status) {
  specs.push_back({"server"});
  specs.push_back({"timeout"});
  specs.insert(specs.end(), std::begin(kSecurityFlags), std::end(kSecurityFlags));
  absl::StatusOr<Flags> flags = Flags::Parse(args, specs);
  absl::StatusOr<Remote> remote =
      flags.ok() ? Connect(*flags) : absl::StatusOr<Remote>(flags.status());
  if (!remote.ok()) {
    exit_status = ReportUsage(command.name, command.usage, std::string(remote.status().message()));
    return std::nullopt;
  }
  if (!flags->positional().empty()) {
    exit_status = ReportUsage(command.name, command.usage,
                              absl::StrCat("unexpected argument \"", flags->positional()[0], "\""));
    return std::nullopt;
  }
  return Invocation{*std::move(flags), *std::move(remote)};
}

std::optional<std::string> RequiredFlag(const Subcommand& command, const Flags& flags,
                                        std::string_view name, int& exit_status) {
  std::optional<std::string> value = flags.Get(name);
  if (!value || value->empty()) {
    exit_status = ReportUsage(command.name, command.usage,
                              absl::StrCat("--", std::string(name), " is required"));
    return std::nullopt;
  }
  return value;
}

int ReportUsage(std::string_view command, std::string_view usage, std::string_view message) {
  std::cerr << "tconv " << command << ": " << message << "\nusage: tconv " << command << " "
            << usage << "\n";
  return kExitUsage;
}

std::string FormatShape(absl::Span<const int64_t> shape) {
  return absl::StrCat("[",
                      absl::StrJoin(shape, ", ",
                                    [](std::string* out, int64_t dim) {
                                      absl::StrAppend(out, dim < 0 ? "?" : absl::StrCat(dim));
                                    }),
                      "]");
}

void PrintLayerLine(const client::LayerInfo& layer, std::ostream& out) {
  out << absl::StrFormat("%-24s in %s -> out %s  %s  weights %016x\n", layer.name,
                         FormatShape(layer.shape_rule.input_shape),
                         FormatShape(layer.shape_rule.output_shape), layer.shape_rule.formula,
                         layer.weight_checksum);
}

namespace {

// Which Keras' semantics the server computes the layer with: its normalised config carries the
// marker only Keras 3 writes, a DTypePolicy dtype, exactly when it was read as Keras 3 (the
// README's "Keras 2 and Keras 3 configs" says how a config is decided).
std::string_view KerasSemantics(const std::string& config_json) {
  const auto config = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) return "unknown";
  const auto dtype = config.find("dtype");
  const bool keras3 = dtype != config.end() && dtype->is_object() &&
                      dtype->value("class_name", "") == "DTypePolicy";
  return keras3 ? "Keras 3 (the config's dtype is a DTypePolicy)" : "Keras 2";
}

}  // namespace

void PrintLayerDetails(const client::LayerInfo& layer, std::ostream& out) {
  const client::ShapeRule& rule = layer.shape_rule;
  out << "name:            " << layer.name << "\n"
      << "data_format:     " << rule.data_format << "\n"
      << "input shape:     " << FormatShape(rule.input_shape) << "\n"
      << "output shape:    " << FormatShape(rule.output_shape) << "  (" << rule.formula << ")\n"
      << "kernel shape:    " << FormatShape(layer.kernel_shape) << "\n"
      << "weight checksum: " << absl::StrFormat("%016x", layer.weight_checksum) << "\n"
      << "created:         "
      << absl::FormatTime(absl::RFC3339_sec, layer.created, absl::UTCTimeZone()) << "\n"
      << "batching:        max_batch_size=" << layer.batching.max_batch_size
      << " batch_timeout=" << absl::FormatDuration(layer.batching.batch_timeout)
      << " max_queue_size=" << layer.batching.max_queue_size << "\n"
      << "semantics:       " << KerasSemantics(layer.config_json) << "\n"
      << "config:          " << layer.config_json << "\n";
}

void PrintUnservedLine(const client::RepositoryModel& model, std::ostream& out) {
  out << absl::StrFormat("%-24s %-11s %s\n", model.name, model.state,
                         model.reason.empty() ? "-" : model.reason);
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open the local file \"", path, "\": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return absl::DataLossError(absl::StrCat("cannot read the local file \"", path, "\""));
  return text.str();
}

absl::Status WriteBinaryFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the local file \"", path, "\": ", std::strerror(errno)));
  }
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("cannot write the local file \"", path, "\""));
  return absl::OkStatus();
}

}  // namespace tconv::tool
