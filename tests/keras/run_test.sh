#!/usr/bin/env bash
# The differential test against the real Keras 3 and Keras 2 (tensorflow-cpu and tf-keras,
# pinned in requirements.txt, installed into build/venvs/keras by scripts/python-env.sh): each
# drawn configuration runs in Keras, in both tconv implementations and through a real
# tconv-server on loopback. No skip: a venv that cannot be made fails the test.
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL [differential.py options, e.g. --cases N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../deploy/lib.sh"
repo=$1 server=$2 tool=$3
shift 3
py=$("$repo/scripts/python-env.sh" keras "$here/requirements.txt")

scratch_with_servers

start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --threads=2
wait_healthy "$tool" "$GRPC_ADDRESS" 60
# The counts also go to $TCONV_TEST_SUMMARY (set by ctest), which scripts/test.sh prints.
timeout 400 "$py" "$here/differential.py" --tconv "$tool" --server "$GRPC_ADDRESS" \
  --workdir "$tmp/cases" "$@" | tee "${TCONV_TEST_SUMMARY:-/dev/null}"
