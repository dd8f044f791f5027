# Shared helpers for the deploy and interop test scripts (sourced, not run).
# Every wait is bounded; every port comes from the kernel (bind to port 0).

# Exit code ctest treats as "skipped" (SKIP_RETURN_CODE 77 in CMake).
readonly SKIP=77

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit "$SKIP"; }

# Prints a TCP port on 127.0.0.1 that was free a moment ago. The tiny window between closing
# the probe socket and the server binding it is acceptable for tests (no other prober here).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out after waiting for: $what"; return 1; }
    sleep 0.2
  done
}

# Writes the containers.conf these VMs need (see deploy-notes) into $1 and exports
# CONTAINERS_CONF so podman and buildah read it.
write_containers_conf() {
  local conf
  conf=$(realpath -m "$1")  # podman's helper processes run in other directories
  cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF=$conf
}

# start_server LOG BINARY ARGS...: starts tconv-server in the background (give it
# --grpc_address=127.0.0.1:0) and waits until it prints the port the kernel chose; sets
# SERVER_PID and GRPC_ADDRESS.
start_server() {
  local log=$1 deadline=$((SECONDS + 60))
  shift
  "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  GRPC_ADDRESS=""
  while [[ -z $GRPC_ADDRESS ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "tconv-server exited at start-up"; }
    ((SECONDS < deadline)) || { cat "$log" >&2; die "tconv-server printed no address in 60 s"; }
    sleep 0.1
    GRPC_ADDRESS=$(sed -n 's/^tconv-server serving grpc=\([^ ]*\).*/\1/p' "$log" | head -1)
  done
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 15); returns the exit code.
stop_pid() {
  local pid=$1 grace=${2:-15} deadline
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# wait_healthy TCONV_TOOL ADDRESS SECONDS: until grpc.health.v1 answers SERVING.
wait_healthy() {
  wait_until "$3" "tconv-server at $2 to report SERVING" "$1" health --server "$2" --timeout 2s
}

# write_npy FILE SHAPE(comma separated) SEED: a float32 .npy of that shape with values in
# [-1, 1) from a seeded generator (standard library only).
write_npy() {
  /usr/bin/python3 - "$@" <<'PY'
import random, struct, sys
path, shape, seed = sys.argv[1], [int(d) for d in sys.argv[2].split(",")], int(sys.argv[3])
count = 1
for d in shape:
    count *= d
rng = random.Random(seed)
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
    f.write(struct.pack("<%df" % count, *(rng.uniform(-1, 1) for _ in range(count))))
PY
}

# write_tls_files DIR: a self-signed P-256 certificate for 127.0.0.1/localhost valid one day
# (DIR/server.pem, its key DIR/server.key; clients trust server.pem itself as their CA) and a
# random bearer token (DIR/token), for tests of a client's TLS and token options.
write_tls_files() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$1/server.key" -out "$1/server.pem" 2>/dev/null
  openssl rand -hex 16 >"$1/token"
}

# scratch_with_servers: makes the scratch folder $tmp and, on exit, stops the servers the
# script started (SERVER_PID, set by start_server; PLAIN_PID, a first server a script keeps),
# prints the tail of their logs ($tmp/*.log) when the script failed, and removes $tmp. Call it
# once, before starting servers.
scratch_with_servers() {
  tmp=$(mktemp -d)
  SERVER_PID="" PLAIN_PID=""
  trap end_scratch_with_servers EXIT
}
end_scratch_with_servers() {
  local rc=$?
  ((rc == 0 || rc == SKIP)) || { log "--- tconv-server logs"; tail -30 "$tmp"/*.log >&2 || true; }
  [[ -n $PLAIN_PID && $PLAIN_PID != "$SERVER_PID" ]] && stop_pid "$PLAIN_PID" 30 || true
  [[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID" 30 || true
  rm -rf "$tmp"
}
