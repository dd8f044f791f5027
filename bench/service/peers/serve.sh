#!/usr/bin/env bash
# Serves tconv layer folders with another serving system, as a peer of tconv-server in the
# service benchmark: the same layer, the same weights, through tf.keras' Conv2DTranspose, over
# the same OIP v2 gRPC API (inference.GRPCInferenceService), so that perf_analyzer drives tconv
# and the peer with the same command line. See README.md beside this file.
#
#   bench/service/peers/serve.sh KIND REPOSITORY_DIR GRPC_PORT LAYER...
#     KIND: mlserver (MLServer 1.7 with the runtime mlserver_runtime.py, started by
#           mlserver_main.py) or
#           pytriton (Triton Inference Server through PyTriton, pytriton_serve.py)
#     REPOSITORY_DIR: a tconv model repository (tconv-server's --model_repository); LAYER names
#           its folders, served as models of the same name
#
# Runs in the foreground; prints "peer ready grpc=127.0.0.1:PORT" once the server and every
# model are ready. Everything listens on 127.0.0.1 only: gRPC on GRPC_PORT, HTTP on
# GRPC_PORT+1, metrics off. SIGTERM/SIGINT stop the peer and all its processes. The Python
# environment is build/venvs/peer_KIND (scripts/python-env.sh, pinned KIND_requirements.txt).
# PEER_THREADS (default 2) sets TensorFlow's intra-op threads; PEER_READY_TIMEOUT (s, default
# 300) bounds the start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
usage="usage: serve.sh mlserver|pytriton REPOSITORY_DIR GRPC_PORT LAYER..."
kind=${1:?$usage}
repository=$(realpath "${2:?$usage}")
port=${3:?$usage}
shift 3
(($# > 0)) || { echo "$usage" >&2; exit 2; }
[[ $kind == mlserver || $kind == pytriton ]] || { echo "$usage" >&2; exit 2; }
[[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65534)) || { echo "bad GRPC_PORT '$port'" >&2; exit 2; }
for layer in "$@"; do
  [[ -f $repository/$layer/config.json ]] ||
    { echo "serve.sh: no layer folder $repository/$layer" >&2; exit 2; }
done

py=$("$root/scripts/python-env.sh" "peer_$kind" "$here/${kind}_requirements.txt")
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

tmp=$(mktemp -d /tmp/tconv_peer_$kind.XXXXXX)
child=""
stop() {
  if [[ -n $child ]]; then
    # The peer runs in its own process group (setsid): TERM reaches tritonserver, the Python
    # backend stubs and any worker too; what is still there after 10 s is killed.
    kill -TERM -- "-$child" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 -- "-$child" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
    child=""
  fi
  rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

if [[ $kind == mlserver ]]; then
  # parallel_workers 0: inference in the server's own process (mlserver_runtime.py hands each
  # batch to TensorFlow's two threads), not in extra worker processes that would each take
  # TensorFlow's threads and more than the benchmark's two-thread budget.
  # gRPC messages up to 64 MiB, as tconv-server's default --max_message_bytes (MLServer's own
  # default, gRPC's 4 MiB, refuses pix2pix_last's 8 MiB input).
  cat >"$tmp/settings.json" <<JSON
{"host": "127.0.0.1", "grpc_port": $port, "http_port": $((port + 1)),
 "metrics_endpoint": null, "parallel_workers": 0, "debug": false,
 "grpc_max_message_length": 67108864,
 "load_models_at_startup": true, "model_repository_root": "$tmp"}
JSON
  # max_batch_time: MLServer batches only with a wait > 0; 100 us is the shortest that still
  # groups what arrives while a batch runs (tconv and Triton wait 0 and batch what is queued).
  "$py" - "$repository" "$tmp" "${PEER_MAX_BATCH_TIME:-0.0001}" "$@" <<'PY'
import json, os, sys
from keras_layer import read_folder
repository, tmp, batch_time, names = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
for name in names:
    keras, channels, max_batch, _, _ = read_folder(os.path.join(repository, name))
    os.makedirs(os.path.join(tmp, name))
    json.dump({"name": name, "implementation": "mlserver_runtime.KerasConv2DTranspose",
               "parameters": {"uri": os.path.join(repository, name)},
               "max_batch_size": max_batch, "max_batch_time": batch_time,
               "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, -1, -1, channels]}],
               "outputs": [{"name": "output", "datatype": "FP32",
                            "shape": [-1, -1, -1, int(keras["filters"])]}]},
              open(os.path.join(tmp, name, "model-settings.json"), "w"))
PY
  # mlserver_main.py is `mlserver start` with Triton's ModelConfig RPC added for perf_analyzer.
  (cd "$tmp" && exec setsid "$py" "$here/mlserver_main.py" "$tmp") &
else
  # Triton's Python backend stub links libpython3.X.so.1.0 and runs the venv's standard
  # library: it must be the libpython of the Python that made the venv (a pyenv 3.11.7 stdlib
  # on Debian's 3.11.2 libpython fails in multiprocessing), so that one comes first.
  libdir=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  setsid "$py" "$here/pytriton_serve.py" "$repository" "$port" "$@" &
fi
child=$!

"$py" "$here/wait_ready.py" "127.0.0.1:$port" "${PEER_READY_TIMEOUT:-300}" "$@" &
waiter=$!
# Whichever ends first: the peer (it failed to start) or the readiness wait.
while kill -0 "$waiter" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
if ! kill -0 "$child" 2>/dev/null; then
  kill "$waiter" 2>/dev/null || true
  wait "$child" && rc=0 || rc=$?
  child=""
  echo "serve.sh: $kind exited (status $rc) before it was ready" >&2
  exit 1
fi
wait "$waiter" || { echo "serve.sh: $kind did not become ready" >&2; exit 1; }
echo "peer ready grpc=127.0.0.1:$port"
wait "$child" && rc=0 || rc=$?
child=""
exit "$rc"
