#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this), from a fresh clone:
# installs the Debian packages, builds once, runs every test but the benchmarks, then
# rebuilds the fast unit tests under AddressSanitizer+UBSan and ThreadSanitizer and runs them.
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

step "tests (all but benchmarks)"
ctest --test-dir build/test -LE Benchmark --output-on-failure -j "$jobs" --timeout 1200

# Sanitizer builds compile only the executables of the `unit` tests (fast, no network).
sanitized_unit_tests() {
  local dir=$1 sanitize=$2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTCONV_WERROR=ON \
    -DTCONV_SANITIZE="$sanitize" -DTCONV_BUILD_BENCH=OFF > /dev/null
  mapfile -t targets < <(ctest --test-dir "$dir" -L unit -N | awk '/Test +#/ {print $3}')
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
  ctest --test-dir "$dir" -L unit --output-on-failure -j "$jobs" --timeout 1200
}
if ((sanitizers)); then
  step "unit tests under address;undefined"
  sanitized_unit_tests build/asan "address;undefined"
  step "unit tests under thread"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" sanitized_unit_tests build/tsan thread
fi
step "all test phases passed"
