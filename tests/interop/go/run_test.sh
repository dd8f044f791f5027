#!/usr/bin/env bash
# Go client test: builds client/go's example (cmd/tconv-golden) with the machine's Go (modules
# from the Go module proxy into Go's own module cache, checked against go.sum), then runs it
# against two real tconv-servers on loopback: plaintext, and TLS + bearer token
# (--auth_inference, so every call needs the token; a call without it must be refused).
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1 server=$2 tool=$3 out=$4

# The machine's Go lives in /usr/local/go; a non-login shell (CI) may not have it on PATH.
command -v go >/dev/null || [[ ! -x /usr/local/go/bin/go ]] || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || skip "go is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"

scratch_with_servers

log "go build client/go/cmd/tconv-golden"
mkdir -p "$out"
(cd "$repo/client/go" && timeout 600 go build -modcacherw -o "$out/" ./cmd/tconv-golden && go vet ./...)
golden=$out/tconv-golden
cases=$repo/tests/conformance/conv2d_transpose_cases.jsonl

mkdir -p "$tmp/plain" "$tmp/tls"
start_server "$tmp/plain.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/plain" --threads=2
plain=$GRPC_ADDRESS PLAIN_PID=$SERVER_PID
wait_healthy "$tool" "$plain" 60
log "plaintext server at $plain"
timeout 120 "$golden" -target "$plain" -cases "$cases"

write_tls_files "$tmp"

start_server "$tmp/tls.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/tls" --threads=2 --tls_cert_file="$tmp/server.pem" \
  --tls_key_file="$tmp/server.key" --auth_token_file="$tmp/token" --auth_inference
# start_server returned once it listens; `tconv health` has no TLS flags, and the example's
# first call is a health check anyway.
log "TLS + token server at $GRPC_ADDRESS"
timeout 120 "$golden" -target "$GRPC_ADDRESS" -cases "$cases" -ca "$tmp/server.pem" \
  -token_file "$tmp/token"
