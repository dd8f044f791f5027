#!/usr/bin/env bash
# Java client test: builds client/java with Maven (grpc-java and the protobuf plugin from Maven
# Central into a local repository under the build folder, stubs generated from proto/), then
# runs its example (GoldenCheck) against two real tconv-servers on loopback: plaintext, and
# TLS + bearer token (--auth_inference; a call without the token must be refused).
# Usage: run_test.sh REPO_DIR TCONV_SERVER TCONV_TOOL BUILD_DIR MAVEN_REPO
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/lib.sh"
repo=$1 server=$2 tool=$3 out=$4 m2=$5

command -v java >/dev/null || skip "java is not installed"
command -v mvn >/dev/null || skip "mvn is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"

scratch_with_servers

# --strict-checksums: a corrupt download fails instead of being kept with a warning.
mvn=(mvn -B -q --strict-checksums -Dstyle.color=never -Dmaven.repo.local="$m2"
  -Dtconv.build.dir="$out" -f "$repo/client/java/pom.xml")
log "mvn compile client/java (local repository $m2)"
timeout 600 "${mvn[@]}" compile
# exec:java resolves the plugin once, offline afterwards; the example runs in Maven's JVM.
golden() { timeout 120 "${mvn[@]}" exec:java -Dexec.args="$*"; }
cases=$repo/tests/conformance/conv2d_transpose_cases.jsonl

mkdir -p "$tmp/plain" "$tmp/tls"
start_server "$tmp/plain.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/plain" --threads=2
plain=$GRPC_ADDRESS PLAIN_PID=$SERVER_PID
wait_healthy "$tool" "$plain" 60
log "plaintext server at $plain"
golden "$plain" "$cases"

write_tls_files "$tmp"
start_server "$tmp/tls.log" "$server" --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --model_repository="$tmp/tls" --threads=2 --tls_cert_file="$tmp/server.pem" \
  --tls_key_file="$tmp/server.key" --auth_token_file="$tmp/token" --auth_inference
# start_server returned once it listens; `tconv health` has no TLS flags, and the example's
# first call is a health check anyway.
log "TLS + token server at $GRPC_ADDRESS"
golden "$GRPC_ADDRESS" "$cases" "$tmp/server.pem" "$tmp/token"
