// The `tconv` subcommands that talk to a running tconv-server through tconv::client:
// create, list, get, delete, infer and health. Each takes --server HOST:PORT and --timeout.
#ifndef TCONV_CLIENT_TOOL_REMOTE_COMMANDS_H_
#define TCONV_CLIENT_TOOL_REMOTE_COMMANDS_H_

#include <string>
#include <vector>

#include "subcommand.h"

namespace tconv::tool {

int RunCreateCommand(const std::vector<std::string>& args);
int RunListCommand(const std::vector<std::string>& args);
int RunGetCommand(const std::vector<std::string>& args);
int RunDeleteCommand(const std::vector<std::string>& args);
int RunInferCommand(const std::vector<std::string>& args);
int RunHealthCommand(const std::vector<std::string>& args);

inline constexpr Subcommand kCreateCommand = {
    "create",
    "--name=NAME --config=FILE.json [--weights=kernel.npy [--bias=bias.npy] | "
    "--input_channels=C [--seed=S]] [--replace] [--server=HOST:PORT] [--timeout=DURATION]",
    "create (or --replace) a layer on the server from Keras config JSON and .npy weights",
    RunCreateCommand};
inline constexpr Subcommand kListCommand = {"list", "[--server=HOST:PORT] [--timeout=DURATION]",
                                            "list the server's layers", RunListCommand};
inline constexpr Subcommand kGetCommand = {
    "get", "--name=NAME [--server=HOST:PORT] [--timeout=DURATION]",
    "show one layer: shapes, weights checksum, normalised config", RunGetCommand};
inline constexpr Subcommand kDeleteCommand = {
    "delete", "--name=NAME [--server=HOST:PORT] [--timeout=DURATION]",
    "stop serving a layer and remove it from the server's repository", RunDeleteCommand};
inline constexpr Subcommand kInferCommand = {
    "infer",
    "--name=NAME --input=in.npy --output=out.npy [--server=HOST:PORT] [--timeout=DURATION]",
    "run a rank-4 float32 .npy input through a layer, write the output as .npy", RunInferCommand};
inline constexpr Subcommand kHealthCommand = {
    "health", "[--service=NAME] [--server=HOST:PORT] [--timeout=DURATION]",
    "grpc.health.v1 check; exit status 0 only when SERVING", RunHealthCommand};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_REMOTE_COMMANDS_H_
