// The `tconv` subcommands of the Open Inference Protocol's model-repository extension:
// index (RepositoryIndex), load (RepositoryModelLoad) and unload (RepositoryModelUnload).
#ifndef TCONV_CLIENT_TOOL_REPOSITORY_COMMANDS_H_
#define TCONV_CLIENT_TOOL_REPOSITORY_COMMANDS_H_

#include <string>
#include <vector>

#include "subcommand.h"

namespace tconv::tool {

int RunIndexCommand(const std::vector<std::string>& args);
int RunLoadCommand(const std::vector<std::string>& args);
int RunUnloadCommand(const std::vector<std::string>& args);

inline constexpr Subcommand kIndexCommand = {
    "index", "[--ready] [--server=HOST:PORT] [--timeout=DURATION]",
    "every folder of the server's model repository: READY or UNAVAILABLE, and why", RunIndexCommand,
    R"(Lists every folder of the server's model repository (OIP RepositoryIndex) with its state:
READY (served) or UNAVAILABLE with the reason: the load error of a broken folder (bad
config.json, weights that do not fit the config, ...) or "unloaded".

flags:
  --ready                only the READY ones (--ready=false: all, the default)

example:
  tconv index --server=127.0.0.1:8001
)"};
inline constexpr Subcommand kLoadCommand = {
    "load", "--name=NAME [--server=HOST:PORT] [--timeout=DURATION]",
    "(re)load a layer from its folder in the server's repository and serve it", RunLoadCommand,
    R"(Reads the layer's folder in the server's model repository again (OIP RepositoryModelLoad)
and serves it: after fixing a folder that failed to load, or to serve an unloaded layer
again. A layer being served keeps being served when the reload fails; the error says why.

flags:
  --name=NAME            the folder / layer (required)

example:
  tconv load --name=dcgan_g2
)"};
inline constexpr Subcommand kUnloadCommand = {
    "unload", "--name=NAME [--server=HOST:PORT] [--timeout=DURATION]",
    "stop serving a layer but keep its folder (tconv load serves it again)", RunUnloadCommand,
    R"(Stops serving a layer (OIP RepositoryModelUnload) but keeps its folder in the model
repository: `tconv index` then shows it UNAVAILABLE, "unloaded", and `tconv load` serves it
again. Requests already accepted are still answered. To remove the folder, `tconv delete`.

flags:
  --name=NAME            the layer (required)

example:
  tconv unload --name=dcgan_g2
)"};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_REPOSITORY_COMMANDS_H_
