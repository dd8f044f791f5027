#!/usr/bin/env bash
# The main job, from a fresh clone on Debian 12: installs the packages, builds tconv (Release)
# and runs tconv-server on loopback with the example layers (the DCGAN generator of
# deploy/example_repository) in ./model_repository. Ctrl-C stops it gracefully.
#
#   scripts/run.sh                       gRPC on 127.0.0.1:8001, metrics on 127.0.0.1:8002
#   GRPC=0.0.0.0:8001 scripts/run.sh     listen elsewhere (any tconv-server flag can follow)
set -euo pipefail
cd "$(dirname "$0")/.."

grpc=${GRPC:-127.0.0.1:8001}
metrics=${METRICS:-127.0.0.1:8002}
repository=${MODEL_REPOSITORY:-$PWD/model_repository}

scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTCONV_BUILD_TESTS=OFF -DTCONV_BUILD_BENCH=OFF > /dev/null
cmake --build build/release --target tconv-server tconv
server=build/release/server/tconv-server
tconv=build/release/client/tool/tconv

"$server" --grpc_address="$grpc" --metrics_address="$metrics" \
  --model_repository="$repository" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"' INT TERM
for _ in $(seq 100); do
  "$tconv" health --server "$grpc" > /dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit 1; }
  sleep 0.1
done
deploy/example_repository/populate.sh "$grpc" "$tconv"

cat <<MSG

tconv-server is serving on $grpc (metrics: http://$metrics/metrics). From another shell:
  $tconv list --server $grpc
  $tconv get --server $grpc --name dcgan_g2
  $tconv conformance --server $grpc tests/conformance/*.jsonl
  $tconv loadgen --server $grpc --layer dcgan_g2 --input_shape 8,7,7,128 --concurrency 8 --duration 5
Ctrl-C stops the server (graceful drain).
MSG
wait "$pid"
