#!/usr/bin/env bash
# Validates the Kubernetes manifests offline (no cluster): installs the npm schema packages
# into a cache directory once, then runs manifests_test.mjs.
# Usage: manifests_test.sh REPO_DIR CACHE_DIR [TCONV_SERVER_BINARY]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
repo=$1 cache=$2 server=${3:-}

command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh --deploy)"
command -v npm >/dev/null || skip "npm is not installed (scripts/install-deps.sh --deploy)"
# Pinned: kubernetes-models 5.x carries the Kubernetes 1.27 schemas.
packages=(kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1)
stamp="$cache/.installed-$(echo "${packages[*]}" | md5sum | cut -c1-12)"
if [[ ! -f $stamp ]]; then
  mkdir -p "$cache"
  log "npm install ${packages[*]} into $cache"
  timeout 300 npm install --no-audit --no-fund --silent --prefix "$cache" "${packages[@]}"
  touch "$stamp"
fi
timeout 120 node "$(dirname "$0")/manifests_test.mjs" "$repo" "$cache/node_modules" "$server"
