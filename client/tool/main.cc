// tconv: the command-line tool. This file only dispatches to the subcommands of the table;
// each subcommand lives in its own file.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "conformance_command.h"
#include "loadgen.h"
#include "remote_commands.h"
#include "remote_common.h"
#include "subcommand.h"

namespace tconv::tool {
namespace {

constexpr Subcommand kSubcommands[] = {
    kConformanceCommand, kCreateCommand, kListCommand,   kGetCommand,
    kDeleteCommand,      kInferCommand,  kHealthCommand, kLoadgenCommand,
};

void PrintUsage(std::ostream& out) {
  out << "usage: tconv <command> [arguments]\n\ncommands:\n";
  for (const Subcommand& command : kSubcommands) {
    out << "  " << command.name << " " << command.usage << "\n      " << command.summary << "\n";
  }
  out << "\nevery command that takes --server also takes " << kSecurityFlagsUsage << "\n";
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    PrintUsage(std::cout);
    return kExitOk;
  }
  for (const Subcommand& command : kSubcommands) {
    if (command.name == args[0]) return command.run({args.begin() + 1, args.end()});
  }
  std::cerr << "tconv: unknown command \"" << args[0] << "\"\n\n";
  PrintUsage(std::cerr);
  return kExitUsage;
}

}  // namespace
}  // namespace tconv::tool

int main(int argc, char** argv) {
  // As in tconv-server: Debian's Abseil would check every gRPC lock for lock-order cycles.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return tconv::tool::Main({argv + 1, argv + argc});
}
