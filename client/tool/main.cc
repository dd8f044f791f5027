// tconv: the command-line tool. This file only dispatches to the subcommands of the table;
// each subcommand lives in its own file.
#include <malloc.h>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "conformance_command.h"
#include "import_command.h"
#include "loadgen.h"
#include "remote_commands.h"
#include "remote_common.h"
#include "repository_commands.h"
#include "subcommand.h"

namespace tconv::tool {
namespace {

constexpr Subcommand kSubcommands[] = {
    kConformanceCommand, kCreateCommand, kListCommand,    kGetCommand,
    kDeleteCommand,      kInferCommand,  kHealthCommand,  kIndexCommand,
    kLoadCommand,        kUnloadCommand, kLoadgenCommand, kImportCommand,
};

void PrintUsage(std::ostream& out) {
  out << "usage: tconv <command> [arguments]\n\ncommands:\n";
  for (const Subcommand& command : kSubcommands) {
    out << "  " << command.name << " " << command.usage << "\n      " << command.summary << "\n";
  }
  out << "\nevery command that takes --server also takes " << kSecurityFlagsUsage << "\n"
      << "tconv COMMAND --help: its flags, what they mean, examples\n"
      << "exit status: 0 success, 1 failed (refused by the server, with its gRPC code, or a "
         "local file error), 2 bad command line\n";
}

// "--help" or "-h" among the flags (before a "--" that ends them).
bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-h" || arg == "-help") return true;
  }
  return false;
}

void PrintCommandHelp(const Subcommand& command, std::ostream& out) {
  out << "usage: tconv " << command.name << " " << command.usage << "\n\n" << command.help;
  if (command.remote) out << "\n" << kRemoteFlagsHelp;
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
    if (command.name != args[0]) continue;
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (WantsHelp(rest)) {
      PrintCommandHelp(command, std::cout);
      return kExitOk;
    }
    return command.run(rest);
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
  // As in tconv-server: tensor-sized buffers stay in the heap instead of a fresh mmap (and its
  // page faults) per call, which is most of what a large answer costs loadgen otherwise.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  return tconv::tool::Main({argv + 1, argv + argc});
}
