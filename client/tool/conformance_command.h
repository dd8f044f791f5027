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
    "run golden and refusal cases; ends with 'N passed, M failed'", RunConformanceCommand};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_CONFORMANCE_COMMAND_H_
