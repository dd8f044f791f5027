// `tconv loadgen`: drives a tconv server with concurrent ModelInfer requests through
// tconv::client and reports throughput, latency percentiles and errors by status code — the
// tool for sizing a deployment (how many requests/s one replica serves at what latency).
#ifndef TCONV_CLIENT_TOOL_LOADGEN_H_
#define TCONV_CLIENT_TOOL_LOADGEN_H_

#include <string>
#include <vector>

#include "subcommand.h"

namespace tconv::tool {

int RunLoadgenCommand(const std::vector<std::string>& args);

inline constexpr Subcommand kLoadgenCommand = {
    "loadgen",
    "--layer=NAME --input_shape=B,H,W,C [--concurrency=C] [--duration=S | --requests=N] "
    "[--seed=S] [--progress] [--server=HOST:PORT] [--timeout=DURATION]",
    "load test one layer: throughput, p50/p90/p99/max latency, errors by code (--help)",
    RunLoadgenCommand};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_LOADGEN_H_
