#!/usr/bin/env bash
# Node.js interop test: installs @grpc/grpc-js and @grpc/proto-loader into a cache directory
# (once), starts tconv-server on loopback, and runs example.mjs against it.
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL CACHE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1 server=$2 tool=$3 cache=$4

command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh --deploy)"
command -v npm >/dev/null || skip "npm is not installed (scripts/install-deps.sh --deploy)"
packages=(@grpc/grpc-js@1.14.7 @grpc/proto-loader@0.8.1)
stamp="$cache/.installed-$(echo "${packages[*]}" | md5sum | cut -c1-12)"
if [[ ! -f $stamp ]]; then
  mkdir -p "$cache"
  log "npm install ${packages[*]} into $cache"
  timeout 300 npm install --no-audit --no-fund --silent --prefix "$cache" "${packages[@]}"
  touch "$stamp"
fi

scratch_with_servers

mkdir -p "$tmp/repo"
start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" --threads=2
grpc=$GRPC_ADDRESS
wait_healthy "$tool" "$grpc" 60
timeout 120 node "$here/example.mjs" "$grpc" "$repo/proto" \
  "$repo/tests/conformance/conv2d_transpose_cases.jsonl" "$cache/node_modules"
