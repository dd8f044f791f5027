#!/usr/bin/env bash
# Triton's perf_analyzer (from tritonclient's wheel, pinned in perf_analyzer_requirements.txt,
# venv made by scripts/python-env.sh) against a real tconv-server on loopback: a concurrency
# sweep 1..8 over unary ModelInfer, then over ModelStreamInfer (--streaming), then with system
# shared memory (--shared-memory=system), each run to completion with zero errors. Short
# measurement windows keep the three under ~30 s. No skip: a venv or library that is missing
# fails the test.
# Usage: perf_analyzer_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../deploy/lib.sh"
repo=$1 server=$2 tool=$3
py=$("$repo/scripts/python-env.sh" perf_analyzer "$here/perf_analyzer_requirements.txt")
venv=$(dirname "$(dirname "$py")")
perf_analyzer=$venv/bin/perf_analyzer
# libcudart.so.12 from the nvidia-cuda-runtime-cu12 wheel (the binary links it; no GPU needed).
cudart=$("$py" -c 'import nvidia.cuda_runtime, os; print(os.path.join(nvidia.cuda_runtime.__path__[0], "lib"))')
export LD_LIBRARY_PATH=$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if missing=$(ldd "$perf_analyzer" | grep 'not found'); then
  die "perf_analyzer cannot load: $missing (libb64.so.0d: scripts/install-deps.sh --test)"
fi

scratch_with_servers

mkdir -p "$tmp/repo"
start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" --threads=2 --max_batch_size=8
wait_healthy "$tool" "$GRPC_ADDRESS" 60
cat >"$tmp/layer.json" <<'JSON'
{"filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
 "activation": "relu", "use_bias": true}
JSON
"$tool" create --server "$GRPC_ADDRESS" --name pa_layer --config "$tmp/layer.json" \
  --input_channels 16 --seed 7 >/dev/null

# -b 1 with --shape input:8,8,16 (ModelConfig's dims leave out the batch dimension, Triton's
# convention for max_batch_size > 0). Windows of 200 ms (default 5 s) and a loose stability
# bound end each of the 8 concurrency levels after its first 3 windows: ~7 s a sweep. A failed
# request makes perf_analyzer exit non-zero ("Thread [0] had error: ...").
run() {  # run NAME [EXTRA FLAGS...]
  local name=$1
  shift
  local start=$SECONDS
  if ! timeout 90 "$perf_analyzer" -m pa_layer -u "$GRPC_ADDRESS" -i grpc --concurrency-range 1:8 \
    -b 1 --shape input:8,8,16 --measurement-interval 200 --stability-percentage 100 \
    --max-trials 10 -f "$tmp/$name.csv" "$@" >"$tmp/$name.log" 2>&1; then
    cat "$tmp/$name.log" >&2
    die "perf_analyzer ($name) failed"
  fi
  # Every level measured: one CSV row per concurrency 1..8.
  local rows
  rows=$(tail -n +2 "$tmp/$name.csv" | wc -l)
  ((rows == 8)) || { cat "$tmp/$name.log" >&2; die "perf_analyzer ($name): $rows result rows, expected 8"; }
  # perf_analyzer reports failed requests in its summary; any is a failure here.
  if grep -Ei 'error|failed|unavailable' "$tmp/$name.log" >&2; then
    die "perf_analyzer ($name) reported errors"
  fi
  log "ok  perf_analyzer $name: concurrency 1..8, 0 errors, $((SECONDS - start)) s; $(grep 'Concurrency: 8,' "$tmp/$name.log")"
}
run unary
run streaming --streaming
# Inputs and outputs in system shared memory (perf_analyzer registers its regions, names them in
# every request and unregisters them at the end): the same sweep with zero errors.
run shared_memory --shared-memory=system
