#!/usr/bin/env bash
# tconv-server vs its peers (MLServer, PyTriton) under perf_analyzer, on the same layers and
# weights: starts tconv-server with a temporary repository, creates the cases of
# bench/suite.json there (tconv create --seed=1), serves that repository with each peer
# (serve.sh), checks every peer against tconv (check.py) and runs one perf_analyzer point per
# server, case and concurrency, the servers in turn. See README.md beside this file.
#
#   bench/service/peers/compare.sh
#   CASES='cvae_d1|dcgan_g1' CONCURRENCY='1 32' DURATION=2s PEERS='mlserver pytriton' ...
#   TCONV_SERVER=path/tconv-server TCONV_TOOL=path/tconv ...   # existing binaries, no build
#   PERF_FLAGS=--streaming ...                                  # (PyTriton only; see README)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cases="${CASES:-cvae_d1|dcgan_g1}"
concurrencies=(${CONCURRENCY:-1 32})
duration="${DURATION:-2s}"
peers=(${PEERS:-mlserver pytriton})
port="${PEER_PORT:-18500}"  # peer i: gRPC on port + 10 i, HTTP on the next one

if [[ -z ${TCONV_SERVER:-} || -z ${TCONV_TOOL:-} ]]; then
  build="${BUILD_DIR:-$root/build/service-bench}"
  [[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DTCONV_BUILD_TESTS=OFF >/dev/null
  ninja -C "$build" tconv-server tconv >/dev/null
  TCONV_SERVER="$build/server/tconv-server"
  TCONV_TOOL="$build/client/tool/tconv"
fi

tmp="$(mktemp -d /tmp/tconv_peers_compare.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$TCONV_SERVER" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" >"$tmp/tconv.log" 2>&1 &
pids+=($!)
tconv=""
for _ in $(seq 300); do
  tconv=$(sed -n 's/^tconv-server serving grpc=\([^ ]*\).*/\1/p' "$tmp/tconv.log")
  [[ -n $tconv ]] && break
  sleep 0.1
done
[[ -n $tconv ]] || { cat "$tmp/tconv.log" >&2; exit 1; }

# name channels H,W,C per case, its Keras config in $tmp/NAME.json
python3 - "$root/bench/suite.json" "$tmp" "$cases" >"$tmp/cases.txt" <<'PY'
import json, re, sys
suite, out, pattern = sys.argv[1], sys.argv[2], sys.argv[3]
for case in json.load(open(suite))["cases"]:
    if re.match(pattern, case["name"]):
        config = {k: case[k] for k in ("filters", "kernel_size", "strides", "padding",
                                       "output_padding", "dilation_rate", "use_bias")}
        json.dump(config, open(f"{out}/{case['name']}.json", "w"))
        print(case["name"], case["input_hwc"][2], ",".join(map(str, case["input_hwc"])))
PY
names=()
while read -r name channels dims; do
  "$TCONV_TOOL" create --server="$tconv" --name="$name" --config="$tmp/$name.json" \
    --input_channels="$channels" --seed=1 >/dev/null
  names+=("$name")
done <"$tmp/cases.txt"

servers=("tconv=$tconv")
for i in "${!peers[@]}"; do
  kind=${peers[$i]}
  p=$((port + 10 * i))
  "$here/serve.sh" "$kind" "$tmp/repo" "$p" "${names[@]}" >"$tmp/$kind.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q '^peer ready' "$tmp/$kind.log" && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.5
  done
  grep -q '^peer ready' "$tmp/$kind.log" || { tail -20 "$tmp/$kind.log" >&2; exit 1; }
  servers+=("$kind=127.0.0.1:$p")
done

check=$("$root/scripts/python-env.sh" peer_check "$here/check_requirements.txt")
while read -r name channels dims; do
  for server in "${servers[@]:1}"; do
    "$check" "$here/check.py" --tconv="$tconv" --peer="${server#*=}" --model="$name" \
      --shape="$dims" --batch=2 | sed "s/^check:/check ${server%%=*}:/"
  done
done <"$tmp/cases.txt"

py=$("$root/scripts/python-env.sh" perf_analyzer "$root/tests/triton/perf_analyzer_requirements.txt")
perf_analyzer="$(dirname "$py")/perf_analyzer"
cudart=$("$py" -c 'import nvidia.cuda_runtime, os; print(os.path.join(nvidia.cuda_runtime.__path__[0], "lib"))')
export LD_LIBRARY_PATH=$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
window_ms=$(awk -v d="$duration" 'BEGIN {printf "%d", d * (d ~ /ms$/ ? 1 : 1000)}')
# point ADDRESS NAME H,W,C CONCURRENCY -> "req/s p50_us", or "failed"
point() {
  timeout 300 "$perf_analyzer" -m "$2" -u "$1" -i grpc --concurrency-range "$4:$4" -b 1 \
    --shape "input:$3" --measurement-interval "$window_ms" --stability-percentage 100 \
    -f "$tmp/perf.csv" ${PERF_FLAGS:-} >"$tmp/perf.log" 2>&1 || { echo "failed -"; return; }
  awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
           NR == 2 {printf "%.0f %.0f\n", $col["Inferences/Second"], $col["p50 latency"]}' \
    "$tmp/perf.csv"
}

echo
echo "perf_analyzer -b 1, $duration windows ${PERF_FLAGS:-}, $(nproc) CPUs, load average" \
  "$(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
printf '| %-18s | %4s |' layer conc
for server in "${servers[@]}"; do printf ' %10s req/s | p50 us |' "${server%%=*}"; done
printf '\n|---|---|%s\n' "$(printf -- '---|---|%.0s' "${servers[@]}")"
while read -r name channels dims; do
  for c in "${concurrencies[@]}"; do
    printf '| %-18s | %4s |' "$name" "$c"
    for server in "${servers[@]}"; do
      read -r rps p50 <<<"$(point "${server#*=}" "$name" "$dims" "$c")"
      printf ' %16s | %6s |' "$rps" "$p50"
    done
    echo
  done
done <"$tmp/cases.txt"
