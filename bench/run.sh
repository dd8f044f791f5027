#!/usr/bin/env bash
# Reproduces bench/README.md's table: installs the benchmark's Debian packages (oneDNN),
# builds tconv in Release mode in build/bench and runs tconv_bench (tconv vs oneDNN on
# bench/suite.json at 1 and 2 threads). Extra arguments go to tconv_bench, e.g.
#   bench/run.sh --cases=pix2pix --threads=1
# The output is also saved to build/bench/tconv_bench.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" --bench
cmake -S "$root" -B "$root/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTCONV_BUILD_SERVICE=OFF -DTCONV_BUILD_TESTS=OFF -DTCONV_BUILD_BENCH=ON
cmake --build "$root/build/bench" --target tconv_bench -- -j "$(nproc)"
"$root/build/bench/bench/tconv_bench" "$@" | tee "$root/build/bench/tconv_bench.txt"
