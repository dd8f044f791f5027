#!/usr/bin/env bash
# A real Prometheus (Debian's) on loopback scrapes a real tconv-server while the `tconv` tool
# sends load; prometheus_check.py then asserts through Prometheus' HTTP API that the exact
# counters, every dashboard query and every recording/alerting rule return the expected series.
# Usage: prometheus_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$1 server=$2 tool=$3

command -v prometheus >/dev/null ||
  skip "prometheus is not installed (Debian package prometheus; scripts/install-deps.sh --deploy)"

tmp=$(mktemp -d)
SERVER_PID="" PROM_PID=""
cleanup() {
  local rc=$?
  if ((rc != 0 && rc != SKIP)); then
    log "--- tconv-server log"; tail -30 "$tmp/server.log" >&2 || true
    log "--- prometheus log"; tail -30 "$tmp/prometheus.log" >&2 || true
  fi
  [[ -n $PROM_PID ]] && stop_pid "$PROM_PID" 10 || true
  [[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID" 30 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

metrics=127.0.0.1:$(free_port)
prom=127.0.0.1:$(free_port)
mkdir -p "$tmp/repo"
start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address="$metrics" \
  --model_repository="$tmp/repo" --threads=2
grpc=$GRPC_ADDRESS
wait_healthy "$tool" "$grpc" 60
metrics_served() { curl -fsS --max-time 2 "http://$metrics/metrics" | grep -q '^tconv_'; }
wait_until 20 "tconv_* metrics on http://$metrics/metrics" metrics_served ||
  die "tconv-server exports no tconv_* metrics on --metrics_address=$metrics"

cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $repo/deploy/prometheus/tconv-rules.yml
scrape_configs:
  - job_name: tconv
    static_configs:
      - targets: ["$metrics"]
YML
promtool check config "$tmp/prometheus.yml" >/dev/null
prometheus --config.file="$tmp/prometheus.yml" --web.listen-address="$prom" \
  --storage.tsdb.path="$tmp/tsdb" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
PROM_PID=$!
# /-/ready answers before the first scrape: wait for up == 1 itself.
up_is_one() {
  curl -fsS --max-time 2 "http://$prom/api/v1/query" --data-urlencode 'query=up{job="tconv"} == 1' |
    grep -q '"value"'
}
wait_until 60 "Prometheus to scrape the server (up == 1)" up_is_one

# Two layers: "probe" gets an exact number of requests (checked against the counters), "load"
# gets the bounded load that feeds the rate and histogram queries.
cat >"$tmp/layer.json" <<'JSON'
{"filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
 "activation": "relu", "use_bias": true}
JSON
for layer in probe load; do
  "$tool" create --server "$grpc" --name "$layer" --config "$tmp/layer.json" \
    --input_channels 4 --seed 7 >/dev/null
done
write_npy "$tmp/probe.npy" 2,5,5,4 1
write_npy "$tmp/load.npy" 1,8,8,4 2

# rate() sees an increase only between two samples of a series, and a counter is born at its
# first increment: so each series is first scraped at a known value, then incremented.
prom_has() {  # prom_has QUERY VALUE: Prometheus answers QUERY with one sample equal to VALUE
  curl -fsS --max-time 2 "http://$prom/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(not (len(r) == 1 and float(r[0]["value"][1]) == float(sys.argv[1])))' "$2"
}
for layer in probe load; do
  wait_until 30 "layer $layer's zero counters in Prometheus" prom_has "tconv_inferences_total{layer=\"$layer\"}" 0
done
infer() { "$tool" infer --server "$grpc" --name "$1" --input "$2" --output "$tmp/out.npy" >/dev/null; }
unknown() {
  if infer no_such_layer "$tmp/probe.npy" 2>/dev/null; then die "infer on an unknown layer succeeded"; fi
}
probe_requests=12
infer probe "$tmp/probe.npy"
wait_until 30 "the first probe request in Prometheus" prom_has 'tconv_requests_total{layer="probe",code="OK"}' 1
for ((i = 1; i < probe_requests; i++)); do infer probe "$tmp/probe.npy"; done
unknown_requests=3
unknown
wait_until 30 "the first NOT_FOUND in Prometheus" prom_has 'tconv_requests_total{layer="",code="NOT_FOUND"}' 1
for ((i = 1; i < unknown_requests; i++)); do unknown; done
# Bounded load for at least 6 scrape intervals: `tconv loadgen` when the tool has it, otherwise
# a loop of single requests.
if "$tool" help 2>/dev/null | grep -q loadgen; then
  log "load: tconv loadgen, concurrency 4, 6 s"
  timeout 60 "$tool" loadgen --server "$grpc" --layer load --input_shape 1,8,8,4 \
    --concurrency 4 --duration 6s >"$tmp/loadgen.log" 2>&1 || { cat "$tmp/loadgen.log" >&2; die "loadgen failed"; }
else
  log "load: tconv infer loop, 6 s"
  end=$((SECONDS + 6))
  for ((n = 0; n < 2000 && SECONDS < end; n++)); do
    infer load "$tmp/load.npy"
  done
fi
sleep 3  # two scrape + evaluation intervals after the load

curl -fsS --max-time 5 "http://$metrics/metrics" >"$tmp/metrics.txt"
timeout 30 promtool check metrics <"$tmp/metrics.txt" ||
  die "promtool check metrics found problems in the exposition"
timeout 120 /usr/bin/python3 "$here/prometheus_check.py" --prometheus "http://$prom" \
  --dashboard "$repo/deploy/grafana/tconv-dashboard.json" \
  --probe_layer probe --probe_requests "$probe_requests" --probe_batch 2 \
  --unknown_requests "$unknown_requests" --layers probe,load
