// A `tconv` subcommand: an entry of the table in main.cc. Each subcommand lives in its own
// file and is only registered in main.cc, which does nothing but dispatch.
#ifndef TCONV_CLIENT_TOOL_SUBCOMMAND_H_
#define TCONV_CLIENT_TOOL_SUBCOMMAND_H_

#include <string>
#include <string_view>
#include <vector>

namespace tconv::tool {

// Exit statuses shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and found failures
inline constexpr int kExitUsage = 2;    // bad command line

struct Subcommand {
  std::string_view name;
  std::string_view usage;    // arguments after the name, e.g. "[--impl=fast|reference] FILE..."
  std::string_view summary;  // one line for `tconv help`
  // Receives the arguments after the subcommand's name; returns the exit status. Never sees
  // --help: main.cc answers it for every subcommand.
  int (*run)(const std::vector<std::string>& args);
  // `tconv NAME --help`, after the usage line: what it does, each of its own flags and what
  // it means, at least one example.
  std::string_view help;
  // Takes --server, --timeout and the security flags (their help is printed after `help`).
  bool remote = true;
};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_SUBCOMMAND_H_
