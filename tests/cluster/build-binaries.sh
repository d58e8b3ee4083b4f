#!/usr/bin/env bash
# Builds (once) the control-plane binaries the local cluster needs and caches them outside the
# repo, keyed by the pinned versions in versions.env. Prints the bin directory on stdout.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  <- k8s.io/kubernetes
#   etcd                                                               <- go.etcd.io/etcd/server/v3
#   kwok, kwokctl                                                      <- sigs.k8s.io/kwok
#   helm (kept in a folder of its own, linked into the bin directory)  <- helm.sh/helm/v4
#   metrics-server (likewise)                                          <- sigs.k8s.io/metrics-server
#
# Everything comes from the Go module proxy; nothing else is downloaded.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

bin="$MINIK8S_CACHE/bin-k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
mkdir -p "$bin"

log() { printf '[build-binaries] %s\n' "$*" >&2; }

export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -trimpath"

build_kube() {
  local name="$1" pkg="$2" version="$3"
  [ -x "$bin/$name" ] && return 0
  log "building $name $version (first time only; a few minutes on 2 cores)"
  local t0=$SECONDS
  (cd "$here/build" && go build -tags=selinux,notest \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)" \
    -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  log "built $name in $((SECONDS - t0))s"
}

go_install() {
  local name="$1" module="$2"
  [ -x "$bin/$name" ] && return 0
  log "installing $name from $module"
  local t0=$SECONDS
  GOFLAGS="-trimpath" GOBIN="$bin" go install -ldflags "-s -w" "$module"
  log "installed $name in $((SECONDS - t0))s"
}

build_kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$KUBE_VERSION"
build_kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$KUBE_VERSION"
build_kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$KUBE_VERSION"
build_kube kubectl k8s.io/kubernetes/cmd/kubectl "$KUBE_VERSION"
# etcd's main package; its version comes from the module, the -X flags above do not touch it.
build_kube etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
go_install kwokctl "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"

# A tool kept in a folder of its own, keyed by its version (so a new version of it does not
# rebuild the control plane), linked into the bin directory.
go_install_own_folder() {
  local name="$1" module="$2" version="$3"
  local dir="$MINIK8S_CACHE/$name-$version"
  if [ ! -x "$dir/$name" ]; then
    log "installing $name $version from ${module%/cmd/*} (first time only)"
    local t0=$SECONDS
    mkdir -p "$dir"
    GOFLAGS="-trimpath" GOBIN="$dir" go install -ldflags "-s -w" "$module@$version"
    log "installed $name in $((SECONDS - t0))s"
  fi
  ln -sfn "$dir/$name" "$bin/$name"
}
go_install_own_folder helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION"
# metrics-server, for the resource metrics API (kubectl top, HPAs) on the local control plane.
go_install_own_folder metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server "$METRICS_SERVER_VERSION"

echo "$bin"
