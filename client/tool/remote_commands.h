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
    RunCreateCommand,
    R"(Creates a layer on the server, which writes it into its model repository and serves it
until `tconv delete`. The files are read here and sent; the server never reads your files.

flags:
  --name=NAME            the layer's name, also its model name for inference (required):
                         1-128 of [A-Za-z0-9_.-], starting with a letter or digit
  --config=FILE.json     local file: the layer's Keras config, layer.get_config() or
                         {"class_name": "Conv2DTranspose", "config": {...}} (required)
  --weights=kernel.npy   local file: float32 kernel in Keras' layout (kh, kw, filters,
                         in_channels), i.e. layer.get_weights()[0]
  --bias=bias.npy        local file: float32 bias (filters,), layer.get_weights()[1]; only with
                         --weights and a config with use_bias true
  --input_channels=C     without --weights: draw the weights from the config's initializers
                         for C input channels
  --seed=S               seed of those initializers (default 0)
  --replace              replace a layer of that name instead of failing with ALREADY_EXISTS
                         (--replace=false: do not)

examples:
  tconv create --name=gen1 --config=gen1.json --weights=kernel.npy --bias=bias.npy
  tconv create --name=gen1 --config=gen1.json --input_channels=128 --seed=7 --replace
)"};
inline constexpr Subcommand kListCommand = {
    "list", "[--server=HOST:PORT] [--timeout=DURATION]",
    "list the server's layers, and repository folders that are not served (with why)",
    RunListCommand,
    R"(Lists the layers the server serves, one line each (input and output shape, the shape
formula, the weights' checksum), then the folders of its model repository that are not
served, with the reason (the load error of a broken folder, or "unloaded"). No flags of its
own.

example:
  tconv list --server=127.0.0.1:8001
)"};
inline constexpr Subcommand kGetCommand = {
    "get", "--name=NAME [--server=HOST:PORT] [--timeout=DURATION]",
    "show one layer: shapes, weights checksum, normalised config", RunGetCommand,
    R"(Shows one served layer: data format, input/output shapes and their formula, kernel
shape, weights' checksum, creation time, batching options and the normalised Keras config.
For a repository folder that is not served, the error says why.

flags:
  --name=NAME            the layer (required)

example:
  tconv get --name=dcgan_g2
)"};
inline constexpr Subcommand kDeleteCommand = {
    "delete", "--name=NAME [--server=HOST:PORT] [--timeout=DURATION]",
    "stop serving a layer and remove it from the server's repository", RunDeleteCommand,
    R"(Stops serving a layer and removes its folder from the server's model repository
(requests already accepted are still answered). To stop serving but keep the folder, use
`tconv unload`.

flags:
  --name=NAME            the layer (required)

example:
  tconv delete --name=gen1
)"};
inline constexpr Subcommand kInferCommand = {
    "infer",
    "--name=NAME --input=in.npy --output=out.npy [--server=HOST:PORT] [--timeout=DURATION]",
    "run a rank-4 float32 .npy input through a layer, write the output as .npy", RunInferCommand,
    R"(Runs one forward pass (Open Inference Protocol ModelInfer) and writes the answer.

flags:
  --name=NAME            the layer (required)
  --input=in.npy         local file: float32 array (B, H, W, C), or (B, C, H, W) for a
                         channels_first layer (required)
  --output=out.npy       local file to write the output to, float32 .npy (required;
                         overwritten)

example:
  tconv infer --name=gen1 --input=x.npy --output=y.npy
)"};
inline constexpr Subcommand kHealthCommand = {
    "health", "[--service=NAME] [--server=HOST:PORT] [--timeout=DURATION]",
    "grpc.health.v1 check; exit status 0 only when SERVING", RunHealthCommand,
    R"(Asks the server's grpc.health.v1 service and prints SERVING or NOT_SERVING (starting
or draining). Exit status 0 only when SERVING, so it fits a readiness probe.

flags:
  --service=NAME         the service to ask about: "" (default) for the whole server, or
                         inference.GRPCInferenceService, tconv.v1.LayerService

example:
  tconv health --server=127.0.0.1:8001 --service=inference.GRPCInferenceService
)"};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_REMOTE_COMMANDS_H_
