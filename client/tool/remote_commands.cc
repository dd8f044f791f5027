#include "remote_commands.h"

#include <initializer_list>
#include <iostream>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "flags.h"
#include "remote_common.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/npy/npy.h"

namespace tconv::tool {
namespace {

// The server names LayerSpec fields (kernel, bias, in_channels, config_json, replace); a user
// of the tool typed flags. One line mapping what the message mentions onto them.
std::string CreateHint(const absl::Status& status) {
  const absl::string_view message = status.message();
  if (status.code() == absl::StatusCode::kAlreadyExists) {
    return "a layer of that name exists: pass --replace to replace it";
  }
  std::vector<std::string> names;
  // The fields as the server's messages use them (not Keras keys such as kernel_size,
  // use_bias or bias_initializer, which are in the --config file under their own names).
  const auto mentions = [&](std::initializer_list<absl::string_view> words) {
    for (absl::string_view word : words) {
      if (absl::StrContains(message, word)) return true;
    }
    return false;
  };
  if (mentions({"config_json"})) names.push_back("config_json is --config");
  if (mentions({"kernel_shape", "kernel has", "kernel is"})) {
    names.push_back("the kernel is --weights");
  }
  if (mentions({"bias has", "bias is", "bias must", "or bias"})) {
    names.push_back("the bias is --bias");
  }
  if (mentions({"in_channels"})) names.push_back("in_channels is --input_channels");
  if (names.empty()) return "";
  return absl::StrCat("in this tool's flags: ", absl::StrJoin(names, ", "));
}

// A .npy file of this machine; errors say so (and name the flag), so that they are not taken
// for the server's.
constexpr absl::string_view kLocalFilePrefix = "local file ";
absl::StatusOr<server::NpyArray> ReadLocalNpy(const std::string& path, const std::string& flag) {
  absl::StatusOr<server::NpyArray> array = server::ReadNpyFile(path, path);
  if (array.ok()) return array;
  return absl::Status(array.status().code(),
                      absl::StrCat(kLocalFilePrefix, "(", flag, "): ", array.status().message()));
}
bool IsLocalFileError(const absl::Status& status) {
  return absl::StartsWith(status.message(), kLocalFilePrefix);
}

// The weights part of a create: .npy files, or in_channels + seed for the initializers.
absl::Status AddWeights(const Flags& flags, client::LayerSpec& spec) {
  if (flags.Has("weights")) {
    if (flags.Has("input_channels") || flags.Has("seed")) {
      return absl::InvalidArgumentError(
          "--weights and --input_channels/--seed exclude each other (the kernel's shape gives "
          "the input channels)");
    }
    ASSIGN_OR_RETURN(server::NpyArray kernel, ReadLocalNpy(*flags.Get("weights"), "--weights"));
    spec.kernel_shape = std::move(kernel.shape);
    spec.kernel = std::move(kernel.data);
    if (flags.Has("bias")) {
      ASSIGN_OR_RETURN(server::NpyArray bias, ReadLocalNpy(*flags.Get("bias"), "--bias"));
      if (bias.shape.size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            kLocalFilePrefix, "(--bias): ", *flags.Get("bias"),
            " must be a rank-1 array (filters,), got shape ", FormatShape(bias.shape)));
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
  std::optional<Invocation> run = StartRemote(kCreateCommand, args,
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
  std::optional<std::string> name = RequiredFlag(kCreateCommand, run->flags, "name", exit_status);
  std::optional<std::string> config =
      RequiredFlag(kCreateCommand, run->flags, "config", exit_status);
  if (!name || !config) return exit_status;
  spec.name = *name;
  absl::StatusOr<bool> replace = run->flags.GetBool("replace", false);
  if (!replace.ok()) {
    return ReportUsage(kCreateCommand.name, kCreateCommand.usage,
                       std::string(replace.status().message()));
  }
  spec.replace = *replace;
  absl::StatusOr<std::string> config_json = ReadTextFile(*config);
  if (!config_json.ok()) return ReportLocalFailure("create", config_json.status());
  spec.config_json = *std::move(config_json);
  if (absl::Status weights = AddWeights(run->flags, spec); !weights.ok()) {
    return IsLocalFileError(weights) ? ReportLocalFailure("create", weights)
                                     : ReportFailure("create", weights);
  }
  absl::StatusOr<client::LayerInfo> layer = run->remote.client->CreateLayer(spec, run->remote.call);
  if (!layer.ok()) {
    ReportFailure("create", layer.status());
    if (const std::string hint = CreateHint(layer.status()); !hint.empty()) {
      std::cerr << "  (" << hint << ")\n";
    }
    return kExitFailure;
  }
  PrintLayerDetails(*layer, std::cout);
  return kExitOk;
}

int RunListCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kListCommand, args, {}, exit_status);
  if (!run) return exit_status;
  absl::StatusOr<client::LayerList> list =
      run->remote.client->ListLayersWithUnserved(run->remote.call);
  if (!list.ok()) return ReportFailure("list", list.status());
  for (const client::LayerInfo& layer : list->layers) PrintLayerLine(layer, std::cout);
  for (const client::RepositoryModel& folder : list->unserved) {
    PrintUnservedLine(folder, std::cout);
  }
  std::cout << list->layers.size() << (list->layers.size() == 1 ? " layer" : " layers");
  if (!list->unserved.empty()) {
    std::cout << ", " << list->unserved.size() << " not served (tconv load --name=NAME to retry)";
  }
  std::cout << "\n";
  return kExitOk;
}

int RunGetCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kGetCommand, args, {{"name"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = RequiredFlag(kGetCommand, run->flags, "name", exit_status);
  if (!name) return exit_status;
  absl::StatusOr<client::LayerInfo> layer = run->remote.client->GetLayer(*name, run->remote.call);
  if (!layer.ok()) return ReportFailure("get", layer.status());
  PrintLayerDetails(*layer, std::cout);
  return kExitOk;
}

int RunDeleteCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kDeleteCommand, args, {{"name"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = RequiredFlag(kDeleteCommand, run->flags, "name", exit_status);
  if (!name) return exit_status;
  const absl::Status deleted = run->remote.client->DeleteLayer(*name, run->remote.call);
  if (!deleted.ok()) return ReportFailure("delete", deleted);
  std::cout << "deleted " << *name << "\n";
  return kExitOk;
}

int RunInferCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run =
      StartRemote(kInferCommand, args, {{"name"}, {"input"}, {"output"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = RequiredFlag(kInferCommand, run->flags, "name", exit_status);
  std::optional<std::string> input = RequiredFlag(kInferCommand, run->flags, "input", exit_status);
  std::optional<std::string> output =
      RequiredFlag(kInferCommand, run->flags, "output", exit_status);
  if (!name || !input || !output) return exit_status;
  absl::StatusOr<server::NpyArray> array = ReadLocalNpy(*input, "--input");
  if (!array.ok()) return ReportLocalFailure("infer", array.status());
  absl::StatusOr<client::Tensor> result =
      run->remote.client->Infer(*name, array->data, array->shape, run->remote.call);
  if (!result.ok()) return ReportFailure("infer", result.status());
  const absl::Status written =
      WriteBinaryFile(*output, server::SerializeNpy(result->shape, result->values));
  if (!written.ok()) return ReportLocalFailure("infer", written);
  std::cout << "output " << FormatShape(result->shape) << " written to " << *output << "\n";
  return kExitOk;
}

int RunHealthCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kHealthCommand, args, {{"service"}}, exit_status);
  if (!run) return exit_status;
  const std::string service = run->flags.Get("service").value_or("");
  absl::StatusOr<client::ServingStatus> status =
      run->remote.client->Health(service, run->remote.call);
  if (!status.ok()) return ReportFailure("health", status.status());
  std::cout << client::ServingStatusName(*status) << "\n";
  return *status == client::ServingStatus::kServing ? kExitOk : kExitFailure;
}

}  // namespace tconv::tool
