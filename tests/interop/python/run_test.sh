#!/usr/bin/env bash
# Python interop test: example.py on tconv-client (client/python, installed with
# `pip install ./client/python` into build/venvs/tconv-client by scripts/python-env.sh; the
# package generates its stubs from proto/ when it is built) against tconv-server on loopback.
# No skip: a venv that cannot be made fails the test.
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1 server=$2 tool=$3
py=$("$repo/scripts/python-env.sh" tconv-client "$repo/tests/client/python/requirements.txt" \
  "$repo/client/python")

scratch_with_servers

mkdir -p "$tmp/repo"
start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" --threads=2
grpc=$GRPC_ADDRESS
wait_healthy "$tool" "$grpc" 60
cd "$tmp"  # the installed package, never a source tree's
timeout 120 "$py" "$here/example.py" "$grpc" "$repo/tests/conformance/conv2d_transpose_cases.jsonl"
