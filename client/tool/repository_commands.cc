#include "repository_commands.h"

#include <iostream>

#include "remote_common.h"

namespace tconv::tool {

int RunIndexCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kIndexCommand, args, {{"ready", true}}, exit_status);
  if (!run) return exit_status;
  absl::StatusOr<bool> ready_only = run->flags.GetBool("ready", false);
  if (!ready_only.ok()) {
    return ReportUsage(kIndexCommand.name, kIndexCommand.usage,
                       std::string(ready_only.status().message()));
  }
  absl::StatusOr<std::vector<client::RepositoryModel>> models =
      run->remote.client->RepositoryIndex(*ready_only, run->remote.call);
  if (!models.ok()) return ReportFailure(kIndexCommand.name, models.status());
  int64_t ready = 0;
  for (const client::RepositoryModel& model : *models) {
    PrintUnservedLine(model, std::cout);
    if (model.state == "READY") ++ready;
  }
  std::cout << models->size() << (models->size() == 1 ? " folder, " : " folders, ") << ready
            << " ready\n";
  return kExitOk;
}

int RunLoadCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kLoadCommand, args, {{"name"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = RequiredFlag(kLoadCommand, run->flags, "name", exit_status);
  if (!name) return exit_status;
  const absl::Status loaded = run->remote.client->RepositoryLoad(*name, run->remote.call);
  if (!loaded.ok()) return ReportFailure(kLoadCommand.name, loaded);
  std::cout << "loaded " << *name << "\n";
  return kExitOk;
}

int RunUnloadCommand(const std::vector<std::string>& args) {
  int exit_status = kExitUsage;
  std::optional<Invocation> run = StartRemote(kUnloadCommand, args, {{"name"}}, exit_status);
  if (!run) return exit_status;
  std::optional<std::string> name = RequiredFlag(kUnloadCommand, run->flags, "name", exit_status);
  if (!name) return exit_status;
  const absl::Status unloaded = run->remote.client->RepositoryUnload(*name, run->remote.call);
  if (!unloaded.ok()) return ReportFailure(kUnloadCommand.name, unloaded);
  std::cout << "unloaded " << *name << " (its folder stays; tconv load serves it again)\n";
  return kExitOk;
}

}  // namespace tconv::tool
