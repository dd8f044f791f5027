#!/usr/bin/env bash
# The service benchmark: tconv-server against its own ceilings and against real serving
# systems, on the cvae_*, dcgan_*, pix2pix_last and unet_last layers of bench/suite.json, all in
# one run on one machine. See bench/service/README.md for what each number means.
#
#   bench/service/run.sh                                # everything (~15 min)
#   CASES='cvae_d1' PEERS='' bench/service/run.sh       # one layer, tconv only
#   DURATION=4s PA_WINDOW_MS=2000 bench/service/run.sh  # longer points
#
# Measures, in this order, each point once:
#   bounds  memcpy GB/s (memcpy_rate); the empty RPC (ServerLive through `tconv loadgen
#           --rpc=live`) at concurrency 1 (p50) and 32 (calls/s); the same empty answer
#           carrying each case's tensor bytes (payload_floor, an OIP server that only
#           answers); the kernel alone at each request size (kernel_time, the server's threads)
#   tconv   `tconv loadgen`: ModelInfer at concurrency 1 and 32 (one example per request), and
#           requests of the suite's batch sizes at concurrency 1, with the tensors in the
#           messages and in system shared memory (--rpc=shm); perf_analyzer: unary and
#           streamed at concurrency 1 and 32
#   peers   perf_analyzer against tconv, MLServer and Triton (PyTriton) serving the same layer
#           with the same weights (bench/service/peers), each answer checked first
#   memory  tconv-server's RSS after the concurrency-1 and -32 loads, the largest requests, and
#           three repeats of the same load (growth)
# then bench/service/report.py prints the tables and one `target <name>: ...` line per target
# of issue 18, and draws $BUILD_DIR/service_bench.png. Raw numbers: $BUILD_DIR/service_bench.tsv.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$root/build/service-bench}"
duration="${DURATION:-2s}"
pa_window_ms="${PA_WINDOW_MS:-1000}"
cases="${CASES:-cvae_|dcgan_|pix2pix_last|unet_last}"
peers=(${PEERS-mlserver pytriton})
threads="${THREADS:-$(nproc)}"

log() { echo "[$(date +%T)] $*" >&2; }

# An existing build directory is used as configured (it must be a Release build).
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTCONV_BUILD_TESTS=OFF \
    -DTCONV_BUILD_BENCH=ON >/dev/null
fi
log "building tconv-server and the bound tools in $build"
ninja -C "$build" -j "$(nproc)" tconv-server tconv service_kernel_time service_payload_floor \
  service_memcpy_rate >/dev/null
server_bin="$build/server/tconv-server"
tool="$build/client/tool/tconv"
kernel_time="$build/bench/service/service_kernel_time"
payload_floor="$build/bench/service/service_payload_floor"
memcpy_rate="$build/bench/service/service_memcpy_rate"

py=$("$root/scripts/python-env.sh" perf_analyzer "$root/tests/triton/perf_analyzer_requirements.txt")
perf_analyzer="$(dirname "$py")/perf_analyzer"
cudart=$("$py" -c 'import nvidia.cuda_runtime, os; print(os.path.join(nvidia.cuda_runtime.__path__[0], "lib"))')
export LD_LIBRARY_PATH=$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

tmp="$(mktemp -d /tmp/tconv_service_bench.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
results="$build/service_bench.tsv"
: >"$results"
# record SERVER CASE BATCH CONCURRENCY MODE METRIC VALUE: one measured number.
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

# start NAME READY_SED COMMAND...: runs COMMAND in the background (log $tmp/NAME.log) and
# waits up to 300 s (a peer imports TensorFlow first) for a line READY_SED extracts an address from; sets $address and $pid.
start() {
  local name=$1 ready=$2
  shift 2
  "$@" >"$tmp/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 3000); do
    address=$(sed -n "$ready" "$tmp/$name.log" 2>/dev/null | head -1)
    [[ -n "$address" ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start:" >&2
  tail -30 "$tmp/$name.log" >&2
  return 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# One line per case: name, input channels, H,W,C, the suite's batch sizes (comma-separated),
# its Keras config written to a file.
python3 - "$root/bench/suite.json" "$tmp" "$cases" >"$tmp/cases.txt" <<'EOF'
import json, re, sys
suite, out, pattern = sys.argv[1], sys.argv[2], sys.argv[3]
for case in json.load(open(suite))["cases"]:
    if not re.match(pattern, case["name"]):
        continue
    config = {k: case[k] for k in ("filters", "kernel_size", "strides", "padding",
                                   "output_padding", "dilation_rate", "use_bias")}
    path = f"{out}/{case['name']}.json"
    json.dump(config, open(path, "w"))
    h, w, c = case["input_hwc"]
    print(case["name"], c, f"{h},{w},{c}", ",".join(map(str, case["batches"])), path)
EOF

# loadgen SERVER ARGS...: `tconv loadgen` for $duration; prints "requests/s examples/s p50_us".
loadgen() {
  local server=$1 out
  shift
  out=$("$tool" loadgen --server="$server" --duration="$duration" --progress=false "$@" \
    2>"$tmp/loadgen.err") || { cat "$tmp/loadgen.err" >&2; return 1; }
  grep -q '^errors: *none' <<<"$out" || { echo "loadgen reported errors: $out" >&2; return 1; }
  awk '/^throughput:/ {rps = $2; eps = ($4 == "" ? $2 : $4)}
       /^latency_ms:/ {sub("p50=", "", $2); p50 = $2 * 1000}
       END {printf "%.1f %.1f %.1f\n", rps, eps, p50}' <<<"$out"
}

# perf SERVER NAME H,W,C BATCH CONCURRENCY [FLAGS...]: one perf_analyzer point (windows of
# $PA_WINDOW_MS until stable, longer for a slow layer: at least 2000 of its kernel times, so
# that a window holds answers at concurrency 32 on the slowest peer); prints "inferences/s
# p50_us".
perf() {
  local server=$1 name=$2 hwc=$3 batch=$4 concurrency=$5 window kernel_us
  shift 5
  kernel_us=$(awk -F'\t' -v n="$name" '$1 == "kernel" && $2 == n && $3 == 1 {print $7}' "$results")
  window=$(awk -v w="$pa_window_ms" -v k="${kernel_us:-0}" 'BEGIN {print (k * 2 > w ? int(k * 2) : w)}')
  timeout 300 "$perf_analyzer" -m "$name" -u "$server" -i grpc -b "$batch" \
    --concurrency-range "$concurrency:$concurrency" --shape "input:$hwc" \
    --measurement-interval "$window" --stability-percentage 50 --max-trials 6 \
    -f "$tmp/perf.csv" "$@" >"$tmp/perf.log" 2>&1 || { tail -20 "$tmp/perf.log" >&2; return 1; }
  awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
           NR == 2 {printf "%.1f %.1f\n", $col["Inferences/Second"], $col["p50 latency"]}' \
    "$tmp/perf.csv"
}

rss_bytes() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
# tree_rss_bytes PID: the RSS of PID and all its descendants (a peer is a tree of processes).
tree_rss_bytes() {
  ps -e -o pid=,ppid=,rss= | awk -v root="$1" '
    {parent[$1] = $2; rss[$1] = $3}
    END {for (p in rss) {for (q = p; q > 1; q = parent[q]) if (q == root) {s += rss[p]; break}}
         print s * 1024}'
}

log "starting tconv-server ($threads threads)"
start tconv 's/^tconv-server serving grpc=\([^ ]*\).*/\1/p' "$server_bin" \
  --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --model_repository="$tmp/repo" \
  --threads="$threads"
tconv="$address"
tconv_pid="$pid"
record tconv - - - idle rss_bytes "$(rss_bytes "$tconv_pid")"
while read -r name channels hwc batches config; do
  "$tool" create --server="$tconv" --name="$name" --config="$config" --input_channels="$channels" \
    --seed=1 >/dev/null
  # The answer's shape after the batch, as the kernel computes it.
  out_hwc=$("$kernel_time" --config="$config" --input_channels="$channels" --seed=1 \
    --input_shape="1,$hwc" --calls=1 | sed 's/.*output_shape=1,\([0-9,]*\).*/\1/')
  echo "$name $out_hwc" >>"$tmp/outputs.txt"
  record - "$name" - - shape in_hwc "$hwc"
  record - "$name" - - shape out_hwc "$out_hwc"
done <"$tmp/cases.txt"

log "bounds: memcpy, the empty RPC, the payload floor, the kernel"
for c in 1 32; do
  read -r rps _ p50 <<<"$(loadgen "$tconv" --rpc=live --concurrency="$c")"
  record floor - 0 "$c" live calls_per_s "$rps"
  record floor - 0 "$c" live p50_us "$p50"
done
while read -r name channels hwc batches config; do
  out_hwc=$(awk -v n="$name" '$1 == n {print $2}' "$tmp/outputs.txt")
  start "payload_$name" 's/^payload_floor serving grpc=\(.*\)/\1/p' "$payload_floor" \
    --grpc_address=127.0.0.1:0 --output_hwc="$out_hwc"
  payload="$address"
  for b in ${batches//,/ }; do
    bytes=$(awk -v b="$b" -v i="$hwc" -v o="$out_hwc" 'BEGIN {
      n = split(i, x, ","); split(o, y, ","); print b * 4 * (x[1] * x[2] * x[3] + y[1] * y[2] * y[3]) }')
    record memcpy "$name" "$b" - - gb_per_s \
      "$("$memcpy_rate" --bytes="$bytes" | sed 's/.*gb_per_s=\([0-9.]*\).*/\1/')"
    read -r _ _ p50 <<<"$(loadgen "$payload" --layer="$name" --input_shape="$b,$hwc" --concurrency=1)"
    record payload "$name" "$b" 1 loadgen p50_us "$p50"
    kernel=$("$kernel_time" --config="$config" --input_channels="$channels" --seed=1 \
      --input_shape="$b,$hwc" --threads="$threads" --calls=$((b == 1 ? 2000 : 400)) |
      sed 's/median_us=\([0-9.]*\).*/\1/')
    record kernel "$name" "$b" - - median_us "$kernel"
  done
  read -r rps _ _ <<<"$(loadgen "$payload" --layer="$name" --input_shape="1,$hwc" --concurrency=32)"
  record payload "$name" 1 32 loadgen calls_per_s "$rps"
  stop "$pid"
done <"$tmp/cases.txt"

log "tconv: loadgen and perf_analyzer"
while read -r name channels hwc batches config; do
  out_hwc=$(awk -v n="$name" '$1 == n {print $2}' "$tmp/outputs.txt")
  for c in 1 32; do
    read -r _ eps p50 <<<"$(loadgen "$tconv" --layer="$name" --input_shape="1,$hwc" --concurrency="$c")"
    record tconv "$name" 1 "$c" loadgen examples_per_s "$eps"
    record tconv "$name" 1 "$c" loadgen p50_us "$p50"
    record tconv "$name" 1 "$c" after rss_bytes "$(rss_bytes "$tconv_pid")"
  done
  for b in ${batches//,/ }; do
    [[ $b == 1 ]] && continue
    read -r _ eps p50 <<<"$(loadgen "$tconv" --layer="$name" --input_shape="$b,$hwc" --concurrency=1)"
    record tconv "$name" "$b" 1 loadgen examples_per_s "$eps"
    record tconv "$name" "$b" 1 loadgen p50_us "$p50"
  done
  for mode in unary streaming; do
    flags=()
    [[ $mode == streaming ]] && flags=(--streaming)
    for c in 1 32; do
      read -r ips p50 <<<"$(perf "$tconv" "$name" "$hwc" 1 "$c" "${flags[@]}")"
      record tconv "$name" 1 "$c" "pa_$mode" examples_per_s "$ips"
      record tconv "$name" 1 "$c" "pa_$mode" p50_us "$p50"
    done
  done
  for b in ${batches//,/ }; do
    read -r _ eps p50 <<<"$(loadgen "$tconv" --layer="$name" --input_shape="$b,$hwc" --concurrency=1 --rpc=shm)"
    record tconv "$name" "$b" 1 shm examples_per_s "$eps"
    record tconv "$name" "$b" 1 shm p50_us "$p50"
  done
  record tconv "$name" "${batches##*,}" 1 after_largest rss_bytes "$(rss_bytes "$tconv_pid")"
done <"$tmp/cases.txt"

log "memory: three repeats of the concurrency-32 load on the first case"
read -r name channels hwc _ <"$tmp/cases.txt"
for repeat in 1 2 3; do
  loadgen "$tconv" --layer="$name" --input_shape="1,$hwc" --concurrency=32 >/dev/null
  record tconv - - - "repeat_$repeat" rss_bytes "$(rss_bytes "$tconv_pid")"
done

((${#peers[@]} == 0)) ||
  check_py=$("$root/scripts/python-env.sh" peer_check "$root/bench/service/peers/check_requirements.txt")
for kind in "${peers[@]}"; do
  log "peer $kind: starting with every layer of the run"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! PEER_THREADS=$threads start "peer_$kind" 's/^peer ready grpc=\(.*\)/\1/p' "$root/bench/service/peers/serve.sh" \
    "$kind" "$tmp/repo" "$port" $(cut -d' ' -f1 "$tmp/cases.txt"); then
    record "$kind" - - - - failed "did not start"
    continue
  fi
  peer="$address"
  peer_pid="$pid"
  while read -r name channels hwc batches config; do
    if ! "$check_py" "$root/bench/service/peers/check.py" --peer="$peer" --tconv="$tconv" \
      --model="$name" --shape="$hwc" >"$tmp/check.log" 2>&1; then
      cat "$tmp/check.log" >&2
      record "$kind" "$name" - - - failed "answer differs from tconv's"
      continue
    fi
    log "peer $kind: $name answers as tconv does; timing"
    for c in 1 32; do
      for server in "$kind" tconv; do
        address=$peer
        [[ $server == tconv ]] && address=$tconv
        read -r ips p50 <<<"$(perf "$address" "$name" "$hwc" 1 "$c")" ||
          { record "$server" "$name" 1 "$c" "vs_$kind" failed "perf_analyzer failed"; continue; }
        record "$server" "$name" 1 "$c" "vs_$kind" examples_per_s "$ips"
        record "$server" "$name" 1 "$c" "vs_$kind" p50_us "$p50"
      done
    done
  done <"$tmp/cases.txt"
  record "$kind" - - - loaded rss_bytes "$(tree_rss_bytes "$peer_pid")"
  stop "$peer_pid"
done

python3 "$root/bench/service/report.py" --results="$results" --threads="$threads" \
  --commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --plot="$build/service_bench.png" | tee "$build/service_bench.txt"
