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
