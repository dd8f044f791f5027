#!/usr/bin/env bash
# Static checks of deploy/prometheus with Prometheus' own tool: the scrape config, the rule
# file, and the rule unit tests (tconv-rules_test.yml: each alert fires on its condition only).
# Usage: promtool_test.sh REPO_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
repo=$1
command -v promtool >/dev/null || skip "promtool is not installed (Debian package prometheus; scripts/install-deps.sh --deploy)"
timeout 60 promtool check config "$repo/deploy/prometheus/prometheus.yml"
timeout 60 promtool check rules "$repo/deploy/prometheus/tconv-rules.yml"
timeout 120 promtool test rules "$repo/tests/deploy/tconv-rules_test.yml"
# Every dashboard query parses as PromQL: written as recording rules (Grafana's variables filled
# in) and checked by promtool, the same parser Prometheus uses.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$(dirname "$0")/dashboard_queries.py" rules \
  "$repo/deploy/grafana/tconv-dashboard.json" >"$tmp/dashboard-rules.yml"
timeout 60 promtool check rules "$tmp/dashboard-rules.yml"
