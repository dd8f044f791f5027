#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this), from a fresh clone:
# installs the Debian packages, builds once, checks formatting and clang-tidy (scripts/lint.sh),
# runs every test but the benchmarks, then rebuilds the GoogleTest tests (unit and
# in-process/subprocess integration) under AddressSanitizer+UBSan and the unit tests under
# ThreadSanitizer and runs them, then runs each libFuzzer target of tests/fuzz for
# TCONV_FUZZ_SECONDS (default 60) under ASan+UBSan.
# Usage: scripts/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    *) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

jobs=$(nproc)
step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

step "install dependencies"
scripts/install-deps.sh --test --deploy

step "build (Release, warnings as errors)"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Release -DTCONV_WERROR=ON
cmake --build build/test -j "$jobs"

step "formatting and clang-tidy"
scripts/lint.sh build/test

step "tests (all but benchmarks)"
ctest --test-dir build/test -LE Benchmark --output-on-failure -j "$jobs" --timeout 1200
# What the real-Keras tests counted (configurations per version, agreements, refusals, imports).
step "real Keras: the differential and import tests' counts"
grep -vh "^  FAIL\|^    " build/test/tests/keras/*.summary

# Sanitizer builds compile only the executables of the tests they run, those with the label $3:
# `gtest` is every GoogleTest test (the unit tests and the integration tests that start real
# servers and clients in-process or as subprocesses); the script tests (deploy/, interop/,
# triton/, consumer/) drive podman, Prometheus, Python and Node against the plain build.
sanitized_tests() {
  local dir=$1 sanitize=$2 label=$3
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTCONV_WERROR=ON \
    -DTCONV_SANITIZE="$sanitize" -DTCONV_BUILD_BENCH=OFF > /dev/null
  mapfile -t targets < <(ctest --test-dir "$dir" -L "$label" -N | awk '/Test +#/ {print $3}')
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
  ctest --test-dir "$dir" -L "$label" --output-on-failure -j "$jobs" --timeout 1200
}
if ((sanitizers)); then
  step "unit and integration tests under address;undefined"
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp print_suppressions=0" \
    sanitized_tests build/asan "address;undefined" gtest
  # ThreadSanitizer: the unit tests only. Tried on the integration tests (server_grpc_stream_test,
  # a TSan build of the drain): thousands of reports inside Debian's uninstrumented gRPC and
  # Abseil (absl::Mutex unlock/lock pairs TSan cannot see), none in tconv's code, so a run there
  # would only say which library is uninstrumented.
  step "unit tests under thread"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" sanitized_tests build/tsan thread unit

  # libFuzzer targets of tests/fuzz (clang, ASan+UBSan), each for TCONV_FUZZ_SECONDS.
  step "fuzz targets under address;undefined (${TCONV_FUZZ_SECONDS:-60} s each)"
  cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DTCONV_WERROR=ON -DTCONV_SANITIZE="address;undefined" \
    -DTCONV_FUZZ=ON -DTCONV_BUILD_TESTS=OFF -DTCONV_BUILD_BENCH=OFF \
    -DTCONV_FUZZ_SECONDS="${TCONV_FUZZ_SECONDS:-60}" > /dev/null
  cmake --build build/fuzz -j "$jobs" --target fuzz
  ctest --test-dir build/fuzz -L fuzz --output-on-failure -j "$jobs"
  cat build/fuzz/tests/fuzz/runs/*/summary
fi
step "all test phases passed"
