#!/usr/bin/env bash
# `make bench`: the minik8s controllers against the built-in ones, on the same local control
# plane, in two settings: (a) both at kube-controller-manager's client limits (QPS 20, burst
# 30) and (b) both without client limits. Each setting gets a fresh cluster of its own.
# Results: a table on stdout and JSON under target/bench/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

bin="$("$here/build-binaries.sh")"
export PATH="$bin:$PATH"
log() { printf '[bench] %s\n' "$*" >&2; }

cd "$root"
log "building minik8s (release)"
cargo build --locked --release --bin minik8s
cargo bench --locked --no-run --bench replicaset --bench deployment --bench endpoints
export MINIK8S_BIN="${CARGO_TARGET_DIR:-$root/target}/release/minik8s"
export MINIK8S_BENCH_OUT="$root/target/bench"
mkdir -p "$MINIK8S_BENCH_OUT"

run_setting() {
  local setting="$1" kwok_args="$2"
  export MINIK8S_CLUSTER_NAME="minik8s-bench-$setting" MINIK8S_NODES=50 MINIK8S_KWOKCTL_ARGS="$kwok_args"
  # shellcheck source=env.sh
  source "$here/env.sh"
  "$here/down.sh" 2>/dev/null || true
  KUBECONFIG="$("$here/up.sh")"
  export KUBECONFIG MINIK8S_KCM_PIDFILE="$KWOK_WORKDIR/clusters/$MINIK8S_CLUSTER_NAME/pids/kube-controller-manager.pid"
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
  log "setting $setting on cluster $MINIK8S_CLUSTER_NAME"
  local status=0
  cargo bench --locked --bench replicaset -- --setting "$setting" || status=$?
  cargo bench --locked --bench deployment -- --setting "$setting" || status=$?
  cargo bench --locked --bench endpoints -- --setting "$setting" || status=$?
  "$here/down.sh" 2>/dev/null || true
  return "$status"
}

run_setting limited ""
run_setting unlimited "--disable-qps-limits"
cargo bench --locked --bench replicaset -- --summary
cargo bench --locked --bench deployment -- --summary
cargo bench --locked --bench endpoints -- --summary
