#!/usr/bin/env bash
# Builds the image from the top-level Dockerfile with podman and checks it as users run it:
# loopback only (--network=host with 127.0.0.1 addresses), health through the image's
# HEALTHCHECK, a layer created with the `tconv` tool answering a golden case, conformance through
# the container, `podman stop` = SIGTERM to PID 1 = clean exit 0 within the drain timeout,
# layers persisting across a restart on the repository volume, the Kubernetes setup (init copy
# of a read-only shared repository, read-only root filesystem), and the example repository as
# the default.
# Usage: container_test.sh REPO_DIR TCONV_TOOL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
repo=$1 tool=$2
py=/usr/bin/python3

command -v podman >/dev/null || skip "podman is not installed (scripts/install-deps.sh --deploy)"
[[ $(id -u) == 0 ]] || skip "needs root (rootful podman; debootstrap for the base images)"
[[ -x $py ]] || skip "/usr/bin/python3 is not installed"

image=localhost/tconv-test:latest
drain_seconds=10
tmp=$(mktemp -d)
containers=()
cleanup() {
  local rc=$?
  for c in "${containers[@]}"; do
    ((rc == 0 || rc == SKIP)) || { log "--- logs of $c"; podman logs --tail 30 "$c" >&2 2>&1 || true; }
    timeout 60 podman rm -f -v -t 0 "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
write_containers_conf "$tmp/containers.conf"

if ! podman image exists debian:bookworm || ! podman image exists debian:bookworm-slim; then
  command -v debootstrap >/dev/null ||
    skip "base images debian:bookworm(-slim) are missing and debootstrap is not installed"
  timeout 900 "$here/base_images.sh"
fi

log "podman build (Dockerfile at $repo)"
start=$SECONDS
timeout 2400 podman build --pull=never --network=host --format docker -t "$image" \
  -f "$repo/Dockerfile" "$repo" >"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log" >&2; die "image build failed"; }
size=$(podman image inspect --format '{{.Size}}' "$image")
log "image built in $((SECONDS - start)) s: $image, $((size / 1000000)) MB"
echo "tconv image size: $((size / 1000000)) MB"

# The image's contract, from its configuration.
inspect() { podman image inspect --format "$1" "$image"; }
[[ $(inspect '{{.Config.User}}') == 10001:10001 ]] || die "image user is $(inspect '{{.Config.User}}'), not 10001:10001"
[[ $(inspect '{{json .Config.ExposedPorts}}') == *8001/tcp*8002/tcp* ]] || die "EXPOSE 8001 8002 missing"
[[ $(inspect '{{json .Config.Volumes}}') == *'"/models"'* ]] || die "VOLUME /models missing"
[[ $(inspect '{{json .Config.Entrypoint}}') == '["/usr/local/bin/tconv-server"]' ]] || die "ENTRYPOINT is not the server in exec form"
[[ $(inspect '{{json .Config.Healthcheck}}') == *"tconv health"* ]] || die "HEALTHCHECK missing: $(inspect '{{json .Config.Healthcheck}}')"

# run NAME [podman options...]: starts a container on fresh loopback ports, sets GRPC. Ports are
# picked here rather than with :0 because the HEALTHCHECK must be told the address.
run() {
  local name=$1
  shift
  GRPC=127.0.0.1:$(free_port)
  local metrics
  metrics=127.0.0.1:$(free_port)
  containers+=("$name")
  podman run -d --name "$name" --network=host -e TCONV_HEALTH_ADDRESS="$GRPC" "$@" "$image" \
    --grpc_address="$GRPC" --metrics_address="$metrics" --model_repository=/models \
    --drain_timeout="${drain_seconds}s" >/dev/null
  healthy_or_gone() {
    [[ $(podman inspect --format '{{.State.Running}}' "$name") == true ]] || return 0
    "$tool" health --server "$GRPC" --timeout 2s >/dev/null 2>&1
  }
  wait_until 60 "container $name to become healthy" healthy_or_gone || die "container $name never became healthy"
  [[ $(podman inspect --format '{{.State.Running}}' "$name") == true ]] ||
    die "container $name exited at start-up: $(podman logs "$name" 2>&1 | tail -3)"
  # The image's own HEALTHCHECK (tconv health inside the container) agrees.
  timeout 30 podman healthcheck run "$name" >/dev/null || die "HEALTHCHECK of $name failed"
}

# stop NAME: SIGTERM through podman stop; the server must exit 0 before the drain timeout ends.
stop() {
  local name=$1 start=$SECONDS code
  timeout 120 podman stop -t $((drain_seconds + 20)) "$name" >/dev/null
  local elapsed=$((SECONDS - start))
  code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
  [[ $code == 0 ]] || die "$name exited with $code after podman stop (137 = killed: SIGTERM not handled)"
  ((elapsed <= drain_seconds + 2)) || die "$name took $elapsed s to stop (drain timeout ${drain_seconds} s)"
  log "$name stopped cleanly in $elapsed s"
}

case_dir=$tmp/case
"$py" "$here/golden_case.py" extract "$repo/tests/conformance/conv2d_transpose_cases.jsonl" \
  pub000_dcgan_k5s2_same "$case_dir"
models=$tmp/models
mkdir -p "$models"
chown 10001:10001 "$models"

log "1. fresh repository volume: create a layer, golden answer, conformance, clean stop"
run tconv-test-$$-a -v "$models:/models"
"$tool" create --server "$GRPC" --name golden --config "$case_dir/config.json" \
  --weights "$case_dir/kernel.npy" --bias "$case_dir/bias.npy" >/dev/null
"$tool" infer --server "$GRPC" --name golden --input "$case_dir/input.npy" --output "$tmp/out_a.npy" >/dev/null
"$py" "$here/golden_case.py" compare "$case_dir" "$tmp/out_a.npy"
timeout 600 "$tool" conformance --server "$GRPC" "$repo"/tests/conformance/*.jsonl >"$tmp/conformance.log" 2>&1 ||
  { tail -20 "$tmp/conformance.log" >&2; die "conformance through the container failed"; }
tail -1 "$tmp/conformance.log"
grep -Eq '^[0-9]+ passed, 0 failed$' <(tail -1 "$tmp/conformance.log") || die "conformance summary: $(tail -1 "$tmp/conformance.log")"
stop tconv-test-$$-a

log "2. restart on the same volume: the layer is back, bit-identical"
run tconv-test-$$-b -v "$models:/models"
"$tool" get --server "$GRPC" --name golden >/dev/null || die "layer golden lost across the restart"
"$tool" infer --server "$GRPC" --name golden --input "$case_dir/input.npy" --output "$tmp/out_b.npy" >/dev/null
cmp "$tmp/out_a.npy" "$tmp/out_b.npy" || die "answers differ after the restart"
stop tconv-test-$$-b

log "3. the Kubernetes setup: an init step copies the read-only shared repository, the server runs read-only"
# Exactly deploy/k8s/base's init container (cp as uid 10001, read-only root, shared volume
# mounted read-only), then the server on the copy with a read-only root filesystem.
copy=$tmp/models_copy
mkdir -p "$copy"
chown 10001:10001 "$copy"
containers+=("tconv-test-$$-init")
timeout 120 podman run --name "tconv-test-$$-init" --read-only --entrypoint cp \
  -v "$models:/shared:ro" -v "$copy:/models" "$image" -R /shared/. /models/ ||
  die "the init container's copy failed"
run tconv-test-$$-c --read-only -v "$copy:/models"
"$tool" infer --server "$GRPC" --name golden --input "$case_dir/input.npy" --output "$tmp/out_c.npy" >/dev/null
cmp "$tmp/out_a.npy" "$tmp/out_c.npy" || die "answers differ on the copied repository"
stop tconv-test-$$-c

log "4. no volume given: the image's example repository is served"
run tconv-test-$$-d
"$tool" list --server "$GRPC" >"$tmp/list.txt"
for layer in dcgan_g1 dcgan_g2 dcgan_g3; do
  grep -q "^$layer " "$tmp/list.txt" || die "example layer $layer not served: $(cat "$tmp/list.txt")"
done
write_npy "$tmp/noise.npy" 1,14,14,64 5
"$tool" infer --server "$GRPC" --name dcgan_g3 --input "$tmp/noise.npy" --output "$tmp/image.npy" |
  grep -Fq '[1, 28, 28, 1]' || die "dcgan_g3 did not answer a [1, 28, 28, 1] image"
stop tconv-test-$$-d
log "container test passed (image $((size / 1000000)) MB)"
