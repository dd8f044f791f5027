#include "import_command.h"

#include <iostream>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "keras_model.h"
#include "remote_common.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/repository/layer_name.h"
#include "tconv/repository/model_repository.h"

namespace tconv::tool {
namespace {

using keras_import::ImportedLayer;
using keras_import::KerasModel;

struct Target {
  std::string name;  // served as
  const ImportedLayer* layer;
};

std::string Describe(const Target& target) {
  const std::string_view version = KerasVersionName(target.layer->config.keras_version);
  return absl::StrCat(target.name, "  (Keras layer ", target.layer->path, ", Keras ",
                      absl::string_view(version.data(), version.size()), ", kernel ",
                      FormatShape(target.layer->kernel_shape),
                      target.layer->bias.empty() ? ", no bias" : ", bias", ")");
}

// The layers to create: --only picks by Keras name (every name must exist), --prefix renames.
absl::StatusOr<std::vector<Target>> SelectTargets(const KerasModel& model, const Flags& flags,
                                                  const std::string& file) {
  const std::string prefix = flags.Get("prefix").value_or("");
  std::set<std::string> only;
  if (std::optional<std::string> list = flags.Get("only")) {
    for (absl::string_view name : absl::StrSplit(*list, ',', absl::SkipEmpty())) {
      only.emplace(name);
    }
  }
  std::vector<Target> targets;
  for (const ImportedLayer& layer : model.layers) {
    if (!only.empty() && only.erase(layer.name) == 0) continue;
    targets.push_back({prefix + layer.name, &layer});
    if (absl::Status valid = server::ValidateLayerName(targets.back().name); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": layer ", layer.path, ": ", valid.message()));
    }
  }
  if (!only.empty()) {
    std::vector<std::string> known;
    for (const ImportedLayer& layer : model.layers) known.push_back(layer.name);
    return absl::InvalidArgumentError(
        absl::StrCat(file, " has no Conv2DTranspose layer ", absl::StrJoin(only, ", "), " (it has ",
                     known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
  }
  if (targets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(file, " has no Conv2DTranspose layer"));
  }
  return targets;
}

client::LayerSpec SpecOf(const Target& target, bool replace) {
  client::LayerSpec spec;
  spec.name = target.name;
  spec.config_json = target.layer->config_json;
  spec.kernel_shape = target.layer->kernel_shape;
  spec.kernel = target.layer->kernel;
  spec.bias = target.layer->bias;
  spec.replace = replace;
  return spec;
}

// On the server: refuse existing names without --replace before creating any; on a failure,
// delete what this run created.
int ImportToServer(const std::vector<Target>& targets, bool replace, const Remote& remote) {
  std::set<std::string> existing;
  for (const Target& target : targets) {
    absl::StatusOr<client::LayerInfo> found = remote.client->GetLayer(target.name, remote.call);
    if (found.ok()) {
      existing.insert(target.name);
      if (!replace) {
        return ReportFailure("import",
                             absl::AlreadyExistsError(absl::StrCat(
                                 "layer ", target.name, " is already served (Keras layer ",
                                 target.layer->path, "); pass --replace; nothing was imported")));
      }
    } else if (found.status().code() != absl::StatusCode::kNotFound) {
      return ReportFailure("import", found.status());
    }
  }
  std::vector<std::string> created;
  for (const Target& target : targets) {
    absl::StatusOr<client::LayerInfo> layer =
        remote.client->CreateLayer(SpecOf(target, replace), remote.call);
    if (!layer.ok()) {
      ReportFailure("import",
                    absl::Status(layer.status().code(), absl::StrCat("layer ", target.name, ": ",
                                                                     layer.status().message())));
      std::vector<std::string> replaced;
      for (const std::string& name : created) {
        if (existing.count(name) > 0) {
          replaced.push_back(name);
          continue;
        }
        const absl::Status deleted = remote.client->DeleteLayer(name, remote.call);
        std::cerr << "  rolled back " << name
                  << (deleted.ok() ? "" : absl::StrCat(": ", deleted.message())) << "\n";
      }
      if (!replaced.empty()) {
        std::cerr << "  already replaced (their old versions are gone): "
                  << absl::StrJoin(replaced, ", ") << "\n";
      }
      return kExitFailure;
    }
    created.push_back(target.name);
    std::cout << (existing.count(target.name) ? "replaced " : "created ") << Describe(target)
              << "\n  ";
    PrintLayerLine(*layer, std::cout);
  }
  return kExitOk;
}

// Into a model repository folder: each layer is written atomically by ModelRepository; a
// failure removes the new folders and writes the replaced ones back.
absl::Status ImportToRepository(const std::vector<Target>& targets, bool replace,
                                const std::string& dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<server::ModelRepository> repository,
                   server::ModelRepository::Open({dir, {}}));
  std::vector<std::pair<std::string, std::optional<server::StoredLayer>>> previous;
  for (const Target& target : targets) {
    if (!repository->Contains(target.name)) {
      previous.emplace_back(target.name, std::nullopt);
      continue;
    }
    if (!replace) {
      return absl::AlreadyExistsError(absl::StrCat(dir, "/", target.name, " exists (Keras layer ",
                                                   target.layer->path,
                                                   "); pass --replace; nothing was imported"));
    }
    absl::StatusOr<server::StoredLayer> old = repository->Load(target.name);
    previous.emplace_back(target.name,
                          old.ok() ? std::optional<server::StoredLayer>(*old) : std::nullopt);
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& target = targets[i];
    server::StoredLayer stored;
    stored.config = target.layer->config;
    stored.in_channels = target.layer->kernel_shape[3];
    stored.weights.kernel = target.layer->kernel;
    stored.weights.bias = target.layer->bias;
    stored.created = absl::Now();
    if (repository->Contains(target.name)) {
      absl::StatusOr<int64_t> version = repository->StoredVersion(target.name);
      stored.version = version.ok() ? *version + 1 : 1;
    }
    if (absl::Status saved = repository->Save(target.name, stored); !saved.ok()) {
      for (size_t j = 0; j < i; ++j) {
        const auto& [name, old] = previous[j];
        const absl::Status undone = old ? repository->Save(name, *old) : repository->Remove(name);
        std::cerr << "  rolled back " << name << (undone.ok() ? "" : ": ") << undone.message()
                  << "\n";
      }
      return absl::Status(saved.code(), absl::StrCat("layer ", target.name, ": ", saved.message()));
    }
    std::cout << (previous[i].second ? "replaced " : "wrote ") << dir << "/" << Describe(target)
              << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

int RunImportCommand(const std::vector<std::string>& args) {
  std::vector<FlagSpec> specs = {{"server"}, {"timeout"}, {"repository"},
                                 {"prefix"}, {"only"},    {"replace", true}};
  specs.insert(specs.end(), std::begin(kSecurityFlags), std::end(kSecurityFlags));
  absl::StatusOr<Flags> flags = Flags::Parse(args, specs);
  const auto usage = [](absl::string_view message) {
    return ReportUsage(kImportCommand.name, kImportCommand.usage, std::string(message));
  };
  if (!flags.ok()) return usage(flags.status().message());
  if (flags->positional().size() != 1) return usage("give exactly one MODEL file");
  if (flags->Has("repository") && flags->Has("server")) {
    return usage("--server and --repository exclude each other");
  }
  absl::StatusOr<bool> replace = flags->GetBool("replace", false);
  if (!replace.ok()) return usage(replace.status().message());
  std::optional<Remote> remote;
  if (!flags->Has("repository")) {
    absl::StatusOr<Remote> connected = Connect(*flags);
    if (!connected.ok()) return usage(connected.status().message());
    remote = *std::move(connected);
  }
  const std::string& file = flags->positional()[0];
  absl::StatusOr<KerasModel> model = keras_import::ReadKerasModel(file);
  if (!model.ok()) return ReportLocalFailure("import", model.status());
  absl::StatusOr<std::vector<Target>> targets = SelectTargets(*model, *flags, file);
  if (!targets.ok()) return ReportLocalFailure("import", targets.status());
  std::cout << file << ": ." << model->format << " saved by Keras "
            << (model->keras_version.empty() ? "(version not recorded)" : model->keras_version)
            << ", " << model->layers.size() << " Conv2DTranspose, " << model->skipped.size()
            << " other layers\n";
  int status = kExitOk;
  if (remote) {
    status = ImportToServer(*targets, *replace, *remote);
  } else if (absl::Status written =
                 ImportToRepository(*targets, *replace, *flags->Get("repository"));
             !written.ok()) {
    status = ReportFailure("import", written);
  }
  if (status != kExitOk) return status;
  for (const keras_import::SkippedLayer& skipped : model->skipped) {
    std::cout << "skipped " << skipped.path << " (" << skipped.class_name << ")\n";
  }
  const size_t left_out = model->layers.size() - targets->size();
  std::cout << targets->size() << " imported, " << model->skipped.size()
            << " skipped (not Conv2DTranspose: they run elsewhere)";
  if (left_out > 0) std::cout << ", " << left_out << " Conv2DTranspose left out by --only";
  std::cout << "\n";
  return kExitOk;
}

}  // namespace tconv::tool
