#!/usr/bin/env bash
# Python interop test: generates Python stubs from proto/ with protoc + grpc_python_plugin,
# starts tconv-server on loopback, and runs example.py (Debian's /usr/bin/python3 with
# python3-grpcio, python3-protobuf, python3-numpy) against it.
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1 server=$2 tool=$3
py=/usr/bin/python3

[[ -x $py ]] || skip "/usr/bin/python3 is not installed"
"$py" -c 'import grpc, google.protobuf, numpy' 2>/dev/null ||
  skip "python3-grpcio / python3-protobuf / python3-numpy are not installed (scripts/install-deps.sh --deploy)"
plugin=$(command -v grpc_python_plugin) || skip "grpc_python_plugin is not installed (protobuf-compiler-grpc)"

tmp=$(mktemp -d)
SERVER_PID=""
cleanup() {
  local rc=$?
  ((rc == 0 || rc == SKIP)) || { log "--- tconv-server log"; tail -30 "$tmp/server.log" >&2 || true; }
  [[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID" 30 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/stubs" "$tmp/repo"
protoc -I "$repo/proto" --python_out="$tmp/stubs" --grpc_python_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  "$repo/proto/tconv/v1/layer_service.proto" "$repo/proto/inference/grpc_service.proto" \
  "$repo/proto/inference/model_config.proto"

start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" --threads=2
grpc=$GRPC_ADDRESS
wait_healthy "$tool" "$grpc" 60
PYTHONPATH="$tmp/stubs:$here" timeout 120 "$py" "$here/example.py" "$grpc" \
  "$repo/tests/conformance/conv2d_transpose_cases.jsonl"
