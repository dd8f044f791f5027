#!/usr/bin/env bash
# The tree's habits, checked (scripts/test.sh runs this after its Release build):
#  - every C++ file git tracks is clang-format clean (.clang-format);
#  - clang-tidy (.clang-tidy) finds nothing in the product's own sources: kernel/, server/,
#    client/, status/, npy/, repository/, conformance/, bench/ (but the peers' glue,
#    bench/*_peer.cc, which includes OpenMP headers clang does not have). Tests are left out to
#    keep CI short (about 5 min on 2 cores for the product; the tests' gtest-heavy files would
#    double it).
# Usage: scripts/lint.sh BUILD_DIR   (a configured build with compile_commands.json, built, so the
#                                     generated protobuf headers exist)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/lint.sh BUILD_DIR}

echo "clang-format: $(git ls-files '*.cc' '*.h' | wc -l) files"
git ls-files -z '*.cc' '*.h' | xargs -0 clang-format-14 --dry-run -Werror

echo "clang-tidy: the product's sources in $build/compile_commands.json"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The compile commands are GCC's: clang may not know some of their warning flags (e.g. a file's
# -Wno-maybe-uninitialized), which must not count as findings.
if ! run-clang-tidy-14 -p "$build" -quiet -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
    "^$PWD/(kernel|server|client|status|npy|repository|conformance|bench/(?![a-z0-9]+_peer\.cc))" \
    > "$log" 2>&1; then
  grep -E "(warning|error):" "$log" | sort -u
  echo "clang-tidy: findings above (checks in .clang-tidy)" >&2
  exit 1
fi
echo "lint: clean"
