#!/usr/bin/env bash
# Triton's own Python client (tritonclient[grpc], pinned in requirements.txt, installed into a
# venv by scripts/python-env.sh) against a real tconv-server on loopback. No skip: a venv that
# cannot be made fails the test, in CI and locally.
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../deploy/lib.sh"
repo=$1 server=$2 tool=$3
py=$("$repo/scripts/python-env.sh" triton "$here/requirements.txt")

scratch_with_servers

mkdir -p "$tmp/repo"
start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" --threads=2 --max_batch_size=8 --batch_timeout_us=250
wait_healthy "$tool" "$GRPC_ADDRESS" 60
timeout 120 "$py" "$here/triton_client_test.py" "$GRPC_ADDRESS" \
  "$repo/tests/conformance/conv2d_transpose_cases.jsonl"
# The system shared memory extension through tritonclient.utils.shared_memory (same server).
timeout 60 "$py" "$here/shared_memory_test.py" "$GRPC_ADDRESS" \
  "$repo/tests/conformance/conv2d_transpose_cases.jsonl"
