#include "remote_commands.h"

#include <iostream>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "flags.h"
#include "remote_common.h"
#include "server/core/npy.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::tool {
namespace {

// Parses the flags of a remote subcommand (its own plus --server and --timeout) and connects.
// On failure prints the reason and returns the exit status in `exit_status`.
struct Invocation {
  Flags flags;
  Remote remote;
};

std::optional<Invocation> Start(const Subcommand& command, const std::vector<std::string>& args,
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

// The value of a required flag, or nullopt after reporting the usage error.
std::optional<std::string> Required(const Subcommand& command, const Flags& flags,
                                    std::string_view name, int& exit_status) {
  std::optional<std::string> value = flags.Get(name);
  if (!value || value->empty()) {
    exit_status = ReportUsage(command.name, command.usage,
                              absl::StrCat("--", std::string(name), " is required"));
    return std::nullopt;
  }
  return value;
}

// The weights part of a create: .npy files, or in_channels + seed for the initializers.
absl::Status AddWeights(const Flags& flags, client::LayerSpec& spec) {
  if (flags.Has("weights")) {
    if (flags.Has("input_channels") || flags.Has("seed")) {
      return absl::InvalidArgumentError(
          "--weights and --input_channels/--seed exclude each other (the kernel's shape gives "
          "the input channels)");
    }
    ASSIGN_OR_RETURN(server::NpyArray kernel,
                     server::ReadNpyFile(*flags.Get("weights"), "--weights"));
    spec.kernel_shape = std::move(kernel.shape);
    spec.kernel = std::move(kernel.data);
    if (flags.Has("bias")) {
      ASSIGN_OR_RETURN(server::NpyArray bias, server::ReadNpyFile(*flags.Get("bias"), "--bias"));
      if (bias.shape.size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--bias must be a rank-1 array (filters,), got shape ", FormatShape(bias.shape)));
      }
      spec.bias = std::move(bias.data);
    }
    return absl::OkStatus();
  }
  if (flags.Has("bias")) return absl::InvalidArgumentError("--bias needs --weights");
  if (!flags.Has("input_channels")) {
    return absl::InvalidArgumentError(
        "give --weights=kernel.npy, or --input_channels=C to draw weights from the initializers");
  }
  ASSIGN_OR_RETURN(spec.in_channels,
                   flags.GetInt("input_channels", 0, 1, std::numeric_limits<int32_t>::max()));
  ASSIGN_OR_RETURN(const int64_t seed,
                   flags.GetInt("seed", 0, 0, std::numeric_limits<int64_t>::max()));
  spec.seed = static_cast<uint64_t>(seed);
  return absl::OkStatus();
}

}  // namespace

int RunCreateCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = Start(kCreateCommand, args,
                                        {{"name"},
                                         {"config"},
                                         {"weights"},
                                         {"bias"},
                                         {"input_channels"},
                                         {"seed"},
                                         {"replace", true}},
                                        exit_status);
  if (!run) return exit_status;
  client::LayerSpec spec;
  std::optional<std::string> name = Required(kCreateCommand, run->flags, "name", exit_status);
  std::optional<std::string> config = Required(kCreateCommand, run->flags, "config", exit_status);
  if (!name || !config) return exit_status;
  spec.name = *name;
  spec.replace = run->flags.Get("replace") == "true";
  absl::StatusOr<std::string> config_json = ReadTextFile(*config);
  if (!config_json.ok()) return ReportFailure("create", config_json.status());
  spec.config_json = *std::move(config_json);
  if (absl::Status weights = AddWeights(run->flags, spec); !weights.ok()) {
    return ReportFailure("create", weights);
  }
  absl::StatusOr<client::LayerInfo> layer = run->remote.client->CreateLayer(spec, run->remote.call);
  if (!layer.ok()) return ReportFailure("create", layer.status());
  PrintLayerDetails(*layer, std::cout);
  return kExitOk;
}

int RunListCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = Start(kListCommand, args, {}, exit_status);
  if (!run) return exit_status;
  absl::StatusOr<std::vector<client::LayerInfo>> layers =
      run->remote.client->ListLayers(run->remote.call);
  if (!layers.ok()) return ReportFailure("list", layers.status());
  for (const client::LayerInfo& layer : *layers) PrintLayerLine(layer, std::cout);
  std::cout << layers->size() << (layers->size() == 1 ? " layer\n" : " layers\n");
  return kExitOk;
}

int RunGetCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = Start(kGetCommand, args, {{"name"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = Required(kGetCommand, run->flags, "name", exit_status);
  if (!name) return exit_status;
  absl::StatusOr<client::LayerInfo> layer = run->remote.client->GetLayer(*name, run->remote.call);
  if (!layer.ok()) return ReportFailure("get", layer.status());
  PrintLayerDetails(*layer, std::cout);
  return kExitOk;
}

int RunDeleteCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = Start(kDeleteCommand, args, {{"name"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = Required(kDeleteCommand, run->flags, "name", exit_status);
  if (!name) return exit_status;
  const absl::Status deleted = run->remote.client->DeleteLayer(*name, run->remote.call);
  if (!deleted.ok()) return ReportFailure("delete", deleted);
  std::cout << "deleted " << *name << "\n";
  return kExitOk;
}

int RunInferCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run =
      Start(kInferCommand, args, {{"name"}, {"input"}, {"output"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = Required(kInferCommand, run->flags, "name", exit_status);
  std::optional<std::string> input = Required(kInferCommand, run->flags, "input", exit_status);
  std::optional<std::string> output = Required(kInferCommand, run->flags, "output", exit_status);
  if (!name || !input || !output) return exit_status;
  absl::StatusOr<server::NpyArray> array = server::ReadNpyFile(*input, "--input");
  if (!array.ok()) return ReportFailure("infer", array.status());
  absl::StatusOr<client::Tensor> result =
      run->remote.client->Infer(*name, array->data, array->shape, run->remote.call);
  if (!result.ok()) return ReportFailure("infer", result.status());
  const absl::Status written =
      WriteBinaryFile(*output, server::SerializeNpy(result->shape, result->values));
  if (!written.ok()) return ReportFailure("infer", written);
  std::cout << "output " << FormatShape(result->shape) << " written to " << *output << "\n";
  return kExitOk;
}

int RunHealthCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = Start(kHealthCommand, args, {{"service"}}, exit_status);
  if (!run) return exit_status;
  const std::string service = run->flags.Get("service").value_or("");
  absl::StatusOr<client::ServingStatus> status =
      run->remote.client->Health(service, run->remote.call);
  if (!status.ok()) return ReportFailure("health", status.status());
  std::cout << client::ServingStatusName(*status) << "\n";
  return *status == client::ServingStatus::kServing ? kExitOk : kExitFailure;
}

}  // namespace tconv::tool
