#!/usr/bin/env bash
# `tconv import` of models saved by the real Keras 3 and Keras 2 during the run (the venv of
# run_test.sh), into a real tconv-server on loopback; see import_models.py. No skip: a venv
# that cannot be made fails the test.
# Usage: run_import_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../deploy/lib.sh"
repo=$1 server=$2 tool=$3
py=$("$repo/scripts/python-env.sh" keras "$here/requirements.txt")

scratch_with_servers

start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --threads=2 --model_repository="$tmp/served"
wait_healthy "$tool" "$GRPC_ADDRESS" 60
# The counts also go to $TCONV_TEST_SUMMARY (set by ctest), which scripts/test.sh prints.
timeout 400 "$py" "$here/import_models.py" --tconv "$tool" --server "$GRPC_ADDRESS" \
  --workdir "$tmp/models" | tee "${TCONV_TEST_SUMMARY:-/dev/null}"
