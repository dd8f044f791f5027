#!/usr/bin/env bash
# Creates the local base images the Dockerfile starts FROM (debian:bookworm and
# debian:bookworm-slim) with debootstrap, for machines that reach Debian's package mirror but no
# image registry. Images that already exist are kept, so this costs ~40 s once per machine.
# Usage: tests/deploy/base_images.sh   (root; needs podman and debootstrap)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

images=(debian:bookworm-slim debian:bookworm)
missing=()
for image in "${images[@]}"; do
  podman image exists "$image" || missing+=("$image")
done
if ((${#missing[@]} == 0)); then
  log "base images present: ${images[*]}"
  exit 0
fi

sources=/etc/apt/sources.list.d/debian.sources
mirror=$(awk '/^URIs:/ {print $2; exit}' "$sources" 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "debootstrap bookworm from $mirror (minbase)"
timeout 900 debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
# The host's sources so -updates and -security match what the host builds against.
if [[ -f $sources ]]; then
  cp "$sources" "$work/rootfs/etc/apt/sources.list.d/"
  rm -f "$work/rootfs/etc/apt/sources.list"
fi
rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/archives/*.deb
# Both tags share one minimal root filesystem; the Dockerfile installs what each stage needs.
tar -C "$work/rootfs" -c . | podman import - "${missing[0]}" >/dev/null
for image in "${missing[@]:1}"; do
  podman tag "${missing[0]}" "$image"
done
log "imported ${missing[*]}"
