// `tconv conformance`: runs conformance files on the local kernel.
#ifndef TCONV_CLIENT_TOOL_CONFORMANCE_COMMAND_H_
#define TCONV_CLIENT_TOOL_CONFORMANCE_COMMAND_H_

#include <string>
#include <vector>

#include "subcommand.h"

namespace tconv::tool {

int RunConformanceCommand(const std::vector<std::string>& args);

inline constexpr Subcommand kConformanceCommand = {
    "conformance",
    "[--impl=fast|reference] [--threads=N] [--server=HOST:PORT [--timeout=DURATION]] FILE.jsonl...",
    "run golden and refusal cases; ends with 'N passed, M failed'", RunConformanceCommand,
    R"(Runs conformance files (JSON lines: a Keras config, weights, an input and the expected
output, or the expected refusal) through the local kernel, or with --server through a running
tconv-server (each case as a temporary layer, deleted afterwards). Prints one line per failed
case and ends with "N passed, M failed"; exit status 0 only when none failed.

flags:
  --impl=fast|reference  local kernel implementation (default fast; not with --server)
  --threads=N            local compute threads, 0 = the CPUs available (default 0; not with
                         --server)
  FILE.jsonl...          local conformance files (e.g. tests/conformance/*.jsonl)

examples:
  tconv conformance tests/conformance/conv2d_transpose_cases.jsonl
  tconv conformance --server=127.0.0.1:8001 --timeout=60s tests/conformance/*.jsonl
)"};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_CONFORMANCE_COMMAND_H_
