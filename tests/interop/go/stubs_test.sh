#!/usr/bin/env bash
# Checks that client/go/pb (committed: `go get` never runs protoc) is exactly what
# client/go/scripts/generate.sh makes from proto/ with its pinned generators and Debian's protoc.
# On a difference: run client/go/scripts/generate.sh and commit the result.
# Usage: stubs_test.sh REPO_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1

# The machine's Go lives in /usr/local/go; a non-login shell (CI) may not have it on PATH.
command -v go >/dev/null || [[ ! -x /usr/local/go/bin/go ]] || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || skip "go is not installed"
command -v protoc >/dev/null || skip "protoc is not installed (protobuf-compiler)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$repo/client/go/scripts/generate.sh" "$tmp"
diff -ru "$repo/client/go/pb" "$tmp/pb" ||
  die "client/go/pb is stale: run client/go/scripts/generate.sh and commit the result"
log "client/go/pb matches proto/ ($(find "$tmp/pb" -name '*.go' | wc -l) files)"
