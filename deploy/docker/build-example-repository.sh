#!/bin/sh
# Builds the image's default model repository at image build time: starts the freshly built
# tconv-server on a loopback port of the kernel's choosing with an empty repository, creates
# the example layers through it (deploy/example_repository/populate.sh — the server writes the
# configs and seeded weights itself), and stops it with SIGTERM. Bounded: 60 s to start.
#   build-example-repository.sh TCONV_SERVER TCONV_TOOL OUT_DIR
set -eu
server=$1 tool=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
log=$(mktemp)
"$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --model_repository="$out" \
  >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
address=""
tries=0
while [ -z "$address" ]; do
  if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -ge 600 ]; then
    cat "$log" >&2
    echo "build-example-repository: tconv-server did not start" >&2
    exit 1
  fi
  sleep 0.1
  tries=$((tries + 1))
  address=$(sed -n 's/^tconv-server serving grpc=\([^ ]*\).*/\1/p' "$log")
done
"$here/../example_repository/populate.sh" "$address" "$tool" >/dev/null
"$tool" list --server "$address"
kill -TERM "$pid"
wait "$pid"
