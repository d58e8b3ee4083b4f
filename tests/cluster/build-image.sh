#!/usr/bin/env bash
# Builds the minik8s image without a Docker engine, with buildah from Debian's packages: the
# same static binary and the same final stage as the Dockerfile (an empty base, user 65532).
# Then checks the image: non-root user, entrypoint, the binary runs, and its size.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { printf '[image] %s\n' "$*" >&2; }

if ! command -v buildah >/dev/null; then
  log "installing buildah (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null && apt-get install -y -qq buildah >/dev/null
  else sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq buildah >/dev/null; fi
fi
# vfs storage and chroot isolation: no overlay mounts or user namespaces needed.
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
image="localhost/minik8s:$version"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

log "building a static minik8s (as the Dockerfile does)"
(cd "$root" && RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --locked --release --quiet --target x86_64-unknown-linux-gnu --bin minik8s)
binary="$target_dir/x86_64-unknown-linux-gnu/release/minik8s"
if readelf -d "$binary" | grep -q NEEDED; then log "the binary needs shared libraries; it must be static"; exit 1; fi

log "assembling $image with buildah"
container="$(buildah from scratch)"
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
buildah copy "$container" "$binary" /minik8s >/dev/null
buildah config --user 65532:65532 --entrypoint '["/minik8s"]' --cmd controller-manager \
  --label org.opencontainers.image.version="$version" "$container"
buildah rmi "$image" >/dev/null 2>&1 || true
buildah commit --quiet "$container" "$image" >/dev/null

user="$(buildah inspect --format '{{.OCIv1.Config.User}}' "$image")"
entrypoint="$(buildah inspect --format '{{.OCIv1.Config.Entrypoint}}' "$image")"
[ "$user" = "65532:65532" ] || { log "image user is '$user', not 65532:65532"; exit 1; }
[ "$entrypoint" = "[/minik8s]" ] || { log "entrypoint is $entrypoint"; exit 1; }
# The binary in the image is the one built above; it must run without a libc.
"$binary" --version >/dev/null
size="$(buildah images --format '{{.Size}}' "$image")"
log "built $image: $size, user $user, entrypoint $entrypoint"
echo "image: $image $size"
