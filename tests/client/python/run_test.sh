#!/usr/bin/env bash
# tconv-client (client/python) as its users get it: `pip install ./client/python` into a venv
# (scripts/python-env.sh, pinned runtime dependencies in requirements.txt; the package is
# rebuilt only when it or proto/ changed), then client_test.py against two tconv-servers on
# loopback: a plaintext one, and a TLS one (throwaway certificates from openssl) that wants a
# bearer token on every call. No skip: a venv that cannot be made fails the test.
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1 server=$2 tool=$3
py=$("$repo/scripts/python-env.sh" tconv-client "$here/requirements.txt" "$repo/client/python")

tmp=$(mktemp -d)
PIDS=()
cleanup() {
  local rc=$?
  ((rc == 0)) || { for f in "$tmp"/*.log; do log "--- $f"; tail -30 "$f" >&2 || true; done; }
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 30 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/repo" "$tmp/tls_repo" "$tmp/certs"
start_server "$tmp/server.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/repo" --threads=2
PIDS+=("$SERVER_PID")
plain=$GRPC_ADDRESS

tls_env=()
if command -v openssl >/dev/null; then
  # P-256 keys valid one day; the server certificate names 127.0.0.1 (what the client dials).
  (
    cd "$tmp/certs"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    key ca.key
    openssl req -x509 -new -key ca.key -out ca.pem -days 1 -subj /CN=tconv-test-ca
    key server.key
    openssl req -new -key server.key -out server.csr -subj /CN=localhost
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
      -extfile server.ext -out server.pem
  ) >"$tmp/openssl.log" 2>&1
  token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  echo "$token" > "$tmp/certs/token"
  start_server "$tmp/tls_server.log" "$server" --grpc_address=127.0.0.1:0 \
    --metrics_address=127.0.0.1:0 --model_repository="$tmp/tls_repo" --threads=1 \
    --tls_cert_file="$tmp/certs/server.pem" --tls_key_file="$tmp/certs/server.key" \
    --auth_token_file="$tmp/certs/token" --auth_inference
  PIDS+=("$SERVER_PID")
  wait_until 60 "the TLS tconv-server at $GRPC_ADDRESS to report SERVING" "$tool" health \
    --server "$GRPC_ADDRESS" --tls_ca_file="$tmp/certs/ca.pem" --token_file="$tmp/certs/token" \
    --timeout 2s
  tls_env=(TCONV_TLS_SERVER="$GRPC_ADDRESS" TCONV_CA_FILE="$tmp/certs/ca.pem" TCONV_TOKEN="$token")
else
  log "openssl is not installed: the TLS and token tests are skipped"
fi
wait_healthy "$tool" "$plain" 60

# Run from $tmp so the installed package is imported, never the source tree's.
cd "$tmp"
env TCONV_SERVER="$plain" TCONV_CONFORMANCE="$repo/tests/conformance" "${tls_env[@]}" \
  timeout 300 "$py" "$here/client_test.py"
