#include "remote_common.h"

#include <cstdio>
#include <fstream>
#include <iostream>
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

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration timeout;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    timeout = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &timeout)) {
    timeout = -absl::Seconds(1);
  }
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout must be a positive duration such as 30s or 500ms, got \"", text, "\""));
  }
  return timeout;
}

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
  if (std::optional<std::string> text = flags.Get("timeout")) {
    ASSIGN_OR_RETURN(remote.call.timeout, ParseTimeout(*text));
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

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open \"", path, "\""));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read \"", path, "\""));
  return text.str();
}

absl::Status WriteBinaryFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InvalidArgumentError(absl::StrCat("cannot create \"", path, "\""));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("cannot write \"", path, "\""));
  return absl::OkStatus();
}

}  // namespace tconv::tool
