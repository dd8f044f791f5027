#include "server_backend.h"

#include <unistd.h>

#include <iostream>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "remote_common.h"
#include "subcommand.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::tool {
namespace {

// Error cases may omit the input; zeros are sent only up to this many elements (the local
// mode's limit), a larger synthesised request would only test the message size limit.
constexpr int64_t kMaxSynthesizedInput = int64_t{1} << 24;

// What CreateLayer gets for a case. The config is parsed here only to find the kernel's
// shape; a config this parser refuses is still sent, so that the server refuses it itself.
client::LayerSpec SpecFor(const ConformanceCase& c, std::string name) {
  client::LayerSpec spec;
  spec.name = std::move(name);
  spec.config_json = c.config_json;
  const absl::StatusOr<LayerConfig> config = LayerConfig::FromJson(c.config_json);
  const bool channels_first = config.ok() && config->data_format == DataFormat::kChannelsFirst;
  if (c.input_shape.size() == 4) spec.in_channels = c.input_shape[channels_first ? 1 : 3];
  if (c.kernel && config.ok()) {
    spec.kernel = *c.kernel;
    spec.kernel_shape = {config->kernel_size[0], config->kernel_size[1], config->filters,
                         spec.in_channels};
    spec.bias = c.bias;
    spec.in_channels = 0;  // the kernel's shape says it
  }
  return spec;
}

// The case's input, or zeros of its shape; nullopt when that shape cannot be synthesised.
std::optional<std::vector<float>> InputFor(const ConformanceCase& c) {
  if (c.input) return *c.input;
  int64_t elements = 1;
  for (int64_t dim : c.input_shape) {
    if (dim < 0 || (dim > 0 && elements > kMaxSynthesizedInput / dim)) return std::nullopt;
    elements *= dim;
  }
  return std::vector<float>(elements, 0.0f);
}

}  // namespace

absl::StatusOr<ConformanceOutput> ServerBackend::Run(const ConformanceCase& c) {
  const client::LayerSpec spec = SpecFor(c, absl::StrCat(prefix_, "-", cases_++));
  std::optional<std::vector<float>> input = InputFor(c);
  if (!input) {
    return absl::FailedPreconditionError(
        absl::StrCat("the case has no input data and its input shape cannot be synthesised"));
  }
  ASSIGN_OR_RETURN(const client::LayerInfo layer, client_.CreateLayer(spec, call_));
  absl::StatusOr<client::Tensor> result = client_.Infer(layer.name, *input, c.input_shape, call_);
  const absl::Status deleted = client_.DeleteLayer(layer.name, call_);
  if (!deleted.ok()) {
    return absl::Status(deleted.code(), absl::StrCat("deleting temporary layer '", layer.name,
                                                     "' failed: ", deleted.message()));
  }
  if (!result.ok()) return result.status();
  return ConformanceOutput{std::move(result->shape), std::move(result->values)};
}

int RunServerConformance(const Flags& flags) {
  if (flags.Has("impl") || flags.Has("threads")) {
    std::cerr << "tconv conformance: --impl and --threads choose the local kernel; with "
                 "--server the server computes\n";
    return kExitUsage;
  }
  absl::StatusOr<Remote> remote = Connect(flags);
  if (!remote.ok()) {
    std::cerr << "tconv conformance: " << remote.status().message() << "\n";
    return kExitUsage;
  }
  // Unique per run, so concurrent runs against one server never touch each other's layers.
  const std::string prefix =
      absl::StrFormat("conformance-%d-%08x", getpid(), std::random_device()());
  ServerBackend backend(*remote->client, remote->call, prefix);
  const ConformanceTotals totals = RunConformance(flags.positional(), backend, std::cout);
  return totals.failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace tconv::tool
