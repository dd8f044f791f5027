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
    "[--seed=S] [--progress] [--rpc=infer|live|shm] [--server=HOST:PORT] [--timeout=DURATION]",
    "load test one layer: throughput, p50/p90/p99/max latency, errors by code (--help)",
    RunLoadgenCommand,
    R"(Sends ModelInfer requests for one layer of a running tconv-server from C concurrent callers
and reports what the server sustained. Each caller sends its next request as soon as its
previous one is answered (a closed loop), so C is the number of requests in flight: at C=1
the latency is the service's floor; at higher C the server merges concurrent requests into
batches and throughput rises until the CPUs are saturated, after which only latency grows.
Every request carries random values in [-1, 1) of the given shape.

flags:
  --layer=NAME           the layer to call (required)
  --input_shape=B,H,W,C  every request's input shape, batch first, in the layer's data_format
                         (B,C,H,W for a channels_first layer) (required)
  --concurrency=C        concurrent callers = requests in flight, 1..1024 (default 1)
  --duration=S           keep sending for this long: 10s, 500ms, 2m or seconds (default 10s)
  --requests=N           send exactly N requests instead (excludes --duration)
  --seed=S               seed of the random inputs (default 1)
  --progress             show the progress line even when stderr is not a terminal;
                         --progress=false hides it on a terminal too
  --rpc=infer|live|shm   infer (default) sends ModelInfer; live sends the empty ServerLive
                         instead, through the same channel and callers: the floor of the RPC
                         itself (its p50 at C=1, its calls/s at C=32), to compare ModelInfer
                         with. --layer and --input_shape are then not needed (and ignored).
                         shm sends ModelInfer with input and output in system shared memory:
                         each caller creates a POSIX object for its input and answer and
                         registers it for the run (the server must run on this host).

While it runs, stderr shows one line updated 4 times a second: elapsed time, requests done,
the throughput of the last quarter second and the errors so far. At the end, stdout gets:

  layer:        NAME input [B, H, W, C], concurrency C
  requests:     N sent, K ok, F failed in T s
  throughput:   X requests/s, Y examples/s       (answered OK; examples = requests * B)
  latency_ms:   p50=... p90=... p99=... max=...  (answered OK, as the client saw them)
  errors:       none, or CODE=count per gRPC status code, each with its first message

Exit status: 0 when at least one request succeeded; 1 when every request failed or the
server cannot be reached; 2 for a bad command line.

Sizing a deployment: send the shapes your clients send and raise --concurrency until the
throughput stops growing: that is one replica's capacity, and the latency at your expected
concurrency is what clients will see. The server's own view is in Prometheus
(tconv_request_duration_seconds, tconv_queue_duration_seconds, tconv_batch_size). Run the
tool on another machine for capacity numbers: on the server's machine it takes CPU from it.

In live mode the first line is "rpc:          ServerLive (empty), concurrency C" and the
throughput line gives requests/s only.

example:
  tconv loadgen --server=127.0.0.1:8001 --layer=cvae_d1 --input_shape=1,7,7,32 \
      --concurrency=32 --duration=20s
)"};

}  // namespace tconv::tool

#endif  // TCONV_CLIENT_TOOL_LOADGEN_H_
