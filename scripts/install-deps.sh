#!/usr/bin/env bash
# Installs every Debian 12 package tconv needs to build, test and run.
# Usage: scripts/install-deps.sh [--test] [--bench] [--deploy]
#   --test   also what the test suite needs (podman, prometheus, python/node clients; openssl
#            makes the throwaway certificates of tests/security; python3-venv the venvs of
#            scripts/python-env.sh, where the Python clients come from the package index;
#            libb64-0d is a library Triton's perf_analyzer binary links, see
#            tests/triton/perf_analyzer_requirements.txt; clang and its libFuzzer/sanitizer
#            runtimes build the fuzz targets of tests/fuzz)
#   --bench  also the benchmark-only peers: oneDNN, PyTorch's C++ API with OpenBLAS (OpenMP
#            build) as the BLAS behind it (without a BLAS named, apt picks the reference BLAS),
#            XNNPACK with its pthreadpool, and python3-venv for the venv ONNX Runtime runs in
#            (bench/ort_requirements.txt: the package index has no C API header for it); and
#            gnuplot, which draws the results
#   --deploy also what the deployment tests need: podman (container image), Prometheus
#            (promtool, real scrape), Node/npm (manifest validation, Node client), Python's
#            venv (Python client) and Maven with JDK 17 (Java client). The Go client needs a Go
#            newer than Debian 12's (1.19): the machine's own Go (1.26) is used, not installed here
# Runs as root (or through sudo when available). Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libtbb-dev prometheus-cpp-dev nlohmann-json3-dev
  libhdf5-dev libzip-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(python3 python3-venv python3-numpy openssl libb64-0d clang-14
                       clang-format-14 clang-tidy-14
                       libclang-rt-14-dev) ;;
    --bench) packages+=(libdnnl-dev libtorch-dev libopenblas0-openmp libxnnpack-dev
                        libpthreadpool-dev python3 python3-venv gnuplot-nox) ;;
    --deploy)
      packages+=(podman buildah runc debootstrap prometheus curl python3 python3-venv
                 python3-numpy protobuf-compiler-grpc maven openjdk-17-jdk-headless)
      # Keep a Node.js that is already installed (e.g. NodeSource's, which bundles npm and
      # conflicts with Debian's npm package).
      command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
