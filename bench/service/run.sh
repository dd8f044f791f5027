#!/usr/bin/env bash
# The service benchmark: throughput with dynamic batching on vs off at concurrency 1, 8 and 32,
# and the service's overhead at concurrency 1 (end-to-end p50 minus kernel-only time), for the
# cvae_* and dcgan_* layers of bench/suite.json. See bench/service/README.md.
#
#   bench/service/run.sh                 # all cvae_* and dcgan_* cases, best of 2 x 4 s per point
#   DURATION=10s REPEATS=3 CASES='cvae_d1' CONCURRENCY='1 32' bench/service/run.sh
#   SERVER_FLAGS=--threads=1 bench/service/run.sh       # flags for both servers
#   LOADGEN=perf_analyzer bench/service/run.sh          # Triton's perf_analyzer as load instead
#   LOADGEN=perf_analyzer PERF_FLAGS=--streaming ...    # ... over ModelStreamInfer
#
# Builds Release in build/service-bench (BUILD_DIR overrides), starts two tconv-servers on
# 127.0.0.1 with temporary repositories — one with the default batching, one with
# --max_batch_size=1 (batching off) — creates every layer on both (weights from the
# initializers, --seed=1), and runs `tconv loadgen` (one example per request) against each in
# turn, so that both see the same machine conditions. The table is also saved to
# $BUILD_DIR/service_bench.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$root/build/service-bench}"
duration="${DURATION:-4s}"
repeats="${REPEATS:-2}"
cases="${CASES:-cvae_|dcgan_}"
concurrencies=(${CONCURRENCY:-1 8 32})
# The load generator of the throughput table: `tconv loadgen` (default) or Triton's
# perf_analyzer (venv build/venvs/perf_analyzer, as tests/triton/perf_analyzer_test.sh makes it;
# PERF_FLAGS are added to its command line, e.g. --streaming).
loadgen_kind="${LOADGEN:-tconv}"
[[ $loadgen_kind == tconv || $loadgen_kind == perf_analyzer ]] ||
  { echo "LOADGEN must be tconv or perf_analyzer, not '$loadgen_kind'" >&2; exit 2; }

# An existing build directory is used as configured (it must be a Release build).
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTCONV_BUILD_TESTS=OFF \
    -DTCONV_BUILD_BENCH=ON >/dev/null
fi
ninja -C "$build" -j "$(nproc)" tconv-server tconv service_kernel_time service_rpc_floor >/dev/null
server_bin="$build/server/tconv-server"
tool="$build/client/tool/tconv"
kernel_time="$build/bench/service/service_kernel_time"
rpc_floor="$build/bench/service/service_rpc_floor"

tmp="$(mktemp -d /tmp/tconv_service_bench.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server NAME FLAGS...: starts tconv-server, sets $address to its gRPC HOST:PORT.
start_server() {
  local name="$1"
  shift
  "$server_bin" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
    --model_repository="$tmp/$name" "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do
    address=$(sed -n 's/^tconv-server serving grpc=\([^ ]*\).*/\1/p' "$tmp/$name.log" 2>/dev/null || true)
    [[ -n "$address" ]] && return 0
    sleep 0.1
  done
  echo "tconv-server ($name) did not start:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

# One line per case: name, input channels, "1,H,W,C", and its Keras config written to a file.
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
    print(case["name"], c, f"1,{h},{w},{c}", path)
EOF

# SERVER_FLAGS go to both servers (e.g. SERVER_FLAGS=--threads=1).
start_server on ${SERVER_FLAGS:-}
on="$address"
start_server off --max_batch_size=1 ${SERVER_FLAGS:-}
off="$address"
while read -r name channels shape config; do
  for server in "$on" "$off"; do
    "$tool" create --server="$server" --name="$name" --config="$config" \
      --input_channels="$channels" --seed=1 >/dev/null
  done
done <"$tmp/cases.txt"

if [[ $loadgen_kind == perf_analyzer ]]; then
  py=$("$root/scripts/python-env.sh" perf_analyzer "$root/tests/triton/perf_analyzer_requirements.txt")
  perf_analyzer="$(dirname "$py")/perf_analyzer"
  cudart=$("$py" -c 'import nvidia.cuda_runtime, os; print(os.path.join(nvidia.cuda_runtime.__path__[0], "lib"))')
  export LD_LIBRARY_PATH=$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

# perf_analyzer_point SERVER NAME SHAPE CONCURRENCY: one perf_analyzer measurement (batch 1, a
# window of $DURATION) as "requests/s p50_us", read from its CSV by column name.
perf_analyzer_point() {
  local window_ms dims
  window_ms=$(awk -v d="$duration" 'BEGIN {printf "%d", d * (d ~ /ms$/ ? 1 : 1000)}')
  dims=${3#*,}  # 1,H,W,C -> H,W,C: Triton's dims leave out the batch dimension
  "$perf_analyzer" -m "$2" -u "$1" -i grpc --concurrency-range "$4:$4" -b 1 \
    --shape "input:$dims" --measurement-interval "$window_ms" --stability-percentage 100 \
    -f "$tmp/perf.csv" ${PERF_FLAGS:-} >"$tmp/perf.log" 2>&1 || {
    cat "$tmp/perf.log" >&2
    exit 1
  }
  awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
           NR == 2 {printf "%.0f %.0f\n", $col["Inferences/Second"], $col["p50 latency"]}' \
    "$tmp/perf.csv"
}

# loadgen SERVER NAME SHAPE CONCURRENCY: prints "requests/s p50_us".
loadgen() {
  if [[ $loadgen_kind == perf_analyzer ]]; then
    perf_analyzer_point "$@"
    return
  fi
  local out
  out=$("$tool" loadgen --server="$1" --layer="$2" --input_shape="$3" --concurrency="$4" \
    --duration="$duration" 2>"$tmp/loadgen.err") || {
    cat "$tmp/loadgen.err" >&2
    exit 1
  }
  if ! grep -q '^errors: *none' <<<"$out"; then
    echo "loadgen reported errors:" >&2
    echo "$out" >&2
  fi
  awk '/^throughput:/ {rps = $2}
       /^latency_ms:/ {sub("p50=", "", $2); p50 = $2 * 1000}
       END {printf "%.0f %.0f\n", rps, p50}' <<<"$out"
}

# best_of NAME SHAPE CONCURRENCY: "on_rps on_p50 off_rps off_p50", each mode's run with the
# highest throughput out of $REPEATS, on and off alternating so both meet the same conditions.
best_of() {
  local on_best="0 0" off_best="0 0" result
  for _ in $(seq "$repeats"); do
    result=$(loadgen "$on" "$1" "$2" "$3")
    on_best=$(printf '%s\n%s\n' "$on_best" "$result" | sort -n -r | head -1)
    result=$(loadgen "$off" "$1" "$2" "$3")
    off_best=$(printf '%s\n%s\n' "$off_best" "$result" | sort -n -r | head -1)
  done
  echo "$on_best $off_best"
}

report="$build/service_bench.txt"
{
  echo "tconv service benchmark: $(date -u +%FT%TZ), $(nproc) CPUs, best of $repeats x" \
    "$duration per point, one example per request, load by $loadgen_kind ${PERF_FLAGS:-}" \
    "on the same machine"
  echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  printf '| %-18s | %4s | %12s | %12s | %6s | %10s | %10s |\n' layer conc "on req/s" \
    "off req/s" "on/off" "on p50 us" "off p50 us"
  echo "|---|---|---|---|---|---|---|"
} | tee "$report"
overheads=()
while read -r name channels shape config; do
  kernel=$("$kernel_time" --config="$config" --input_channels="$channels" --seed=1 \
    --input_shape="$shape" | sed 's/median_us=\([0-9.]*\).*/\1/')
  for c in "${concurrencies[@]}"; do
    read -r on_rps on_p50 off_rps off_p50 <<<"$(best_of "$name" "$shape" "$c")"
    ratio=$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    printf '| %-18s | %4s | %12s | %12s | %6s | %10s | %10s |\n' "$name" "$c" "$on_rps" \
      "$off_rps" "${ratio}x" "$on_p50" "$off_p50" | tee -a "$report"
    if [[ "$c" == 1 ]]; then
      floor=$("$rpc_floor" --server="$on" --calls=2000 | sed 's/median_us=\([0-9.]*\).*/\1/')
      overheads+=("$(awk -v n="$name" -v s="$shape" -v e="$on_p50" -v k="$kernel" -v f="$floor" \
        'BEGIN {printf "| %-18s | %-12s | %8.0f | %8.1f | %8.0f | %8.0f | %8.0f |", n, s, e, k,
                e - k, f, e - k - f}')")
    fi
  done
done <"$tmp/cases.txt"
{
  echo
  echo "Service overhead at concurrency 1 (batching on): end-to-end p50 minus kernel-only median"
  echo "(kernel_time, batch 1, same thread count as the server); rpc floor: median round trip of"
  echo "an empty call (ServerLive, rpc_floor) right after, what gRPC and the machine cost anyway"
  echo
  printf '| %-18s | %-12s | %8s | %8s | %8s | %8s | %8s |\n' layer input "e2e p50" kernel \
    overhead "rpc floor" "- floor"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${overheads[@]}"
  echo "(all times in us)"
} | tee -a "$report"
