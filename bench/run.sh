#!/usr/bin/env bash
# Reproduces bench/README.md's table: installs the benchmark's Debian packages (oneDNN,
# PyTorch, OpenBLAS, XNNPACK), makes the pinned ONNX Runtime venv (build/venvs/ort, from
# bench/ort_requirements.txt), builds tconv in Release mode in build/bench and runs tconv_bench
# (tconv vs oneDNN, PyTorch, XNNPACK and ONNX Runtime on bench/suite.json at 1 and 2 threads).
# Extra arguments go to tconv_bench, e.g.
#   bench/run.sh --cases=pix2pix --threads=1
# The output is also saved to build/bench/tconv_bench.txt, and gnuplot draws its ratios
# (best peer / tconv, channels_first / channels_last, 2 threads / 1) in build/bench/tconv_bench.png.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" --bench
# ONNX Runtime runs from Python (bench/ort_peer.h): without its venv the run goes on without it.
ort_python="$("$root/scripts/python-env.sh" ort "$root/bench/ort_requirements.txt")" || {
  echo "run.sh: no ONNX Runtime venv (see above); running without ONNX Runtime" >&2
  ort_python=""
}
cmake -S "$root" -B "$root/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTCONV_BUILD_SERVICE=OFF -DTCONV_BUILD_TESTS=OFF -DTCONV_BUILD_BENCH=ON
cmake --build "$root/build/bench" --target tconv_bench -- -j "$(nproc)"
# OpenBLAS (PyTorch's GEMM) falls back to generic SSE3 kernels on CPUs it does not recognise
# (e.g. recent Xeons in VMs); name the kernels the CPU can run unless the caller chose.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
  has() { [[ " $flags " == *" $1 "* ]]; }
  if has avx512f && has avx512bw && has avx512vl && has avx512dq; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif has avx2 && has fma; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
out="$root/build/bench/tconv_bench"
"$root/build/bench/bench/tconv_bench" --plot_data="$out.tsv" ${ort_python:+--ort_python="$ort_python"} \
  "$@" | tee "$out.txt"
gnuplot -e "data='$out.tsv'; out='$out.png'" "$root/bench/plot.gp"
echo "table: $out.txt; plot: $out.png"
