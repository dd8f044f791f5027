#!/usr/bin/env bash
# proto/inference against Triton's own descriptors (shipped in the pinned tritonclient).
# Usage: wire_compat.sh REPO_DIR
set -euo pipefail
repo=$1
py=$("$repo/scripts/python-env.sh" triton "$repo/tests/triton/requirements.txt")
exec "$py" "$repo/tests/triton/wire_compat_test.py" "$repo/proto"
