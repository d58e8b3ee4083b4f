#!/usr/bin/env bash
# `make bench`: the minik8s controllers against the built-in ones, on the same local control
# plane, in two settings: (a) both at kube-controller-manager's client limits (QPS 20, burst
# 30) and (b) both without client limits. Each setting gets a fresh cluster of its own. Then
# minik8s-scheduler against kube-scheduler on a cluster of 500 nodes, at kube-scheduler's
# limits (QPS 50, burst 100) and without, and without on 1000 nodes. Results: tables on stdout, JSON under target/bench/.
#
#   MINIK8S_BENCHES="scheduler"   run only some of the benches (default: all four)
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
cargo bench --locked --no-run --bench replicaset --bench deployment --bench endpoints --bench scheduler --bench scale
export MINIK8S_BIN="${CARGO_TARGET_DIR:-$root/target}/release/minik8s"
export MINIK8S_BENCH_OUT="$root/target/bench"
mkdir -p "$MINIK8S_BENCH_OUT"

# Makes the fresh cluster $1 (nodes: $2, kwokctl arguments: $3) and exports KUBECONFIG and the
# pid file of its kube-controller-manager.
cluster_up() {
  # The audit log (metadata level): the benches count each controller's API calls in it. No
  # metrics-server: nothing measured uses it, and its scrapes of every node keep kwok busy.
  export MINIK8S_CLUSTER_NAME="$1" MINIK8S_NODES="$2" MINIK8S_KWOKCTL_ARGS="$3" MINIK8S_AUDIT=1 \
    MINIK8S_METRICS_SERVER=0
  # shellcheck source=env.sh
  source "$here/env.sh"
  "$here/down.sh" 2>/dev/null || true
  KUBECONFIG="$("$here/up.sh")"
  local pids="$KWOK_WORKDIR/clusters/$MINIK8S_CLUSTER_NAME/pids"
  export KUBECONFIG MINIK8S_KCM_PIDFILE="$pids/kube-controller-manager.pid" \
    MINIK8S_AUDIT_LOG="$KWOK_WORKDIR/clusters/$MINIK8S_CLUSTER_NAME/logs/audit.log"
}

# MINIK8S_BENCHES: the benches to run (default: all of them).
benches="${MINIK8S_BENCHES:-replicaset deployment endpoints scheduler scale}"
wants() { [[ " $benches " == *" $1 "* ]]; }

run_setting() {
  local setting="$1" kwok_args="$2" status=0
  cluster_up "minik8s-bench-$setting" 50 "$kwok_args"
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
  log "setting $setting on cluster $MINIK8S_CLUSTER_NAME"
  for bench in replicaset deployment endpoints; do
    if wants "$bench"; then
      cargo bench --locked --bench "$bench" -- --setting "$setting" || status=$?
    fi
  done
  "$here/down.sh" 2>/dev/null || true
  return "$status"
}

# The scheduler bench wants many nodes in a few zones: a cluster of its own per setting, of
# $3 nodes in 10 zones.
run_scheduler_setting() {
  local setting="$1" kwok_args="$2" nodes="$3" status=0
  export MINIK8S_ZONES=10
  cluster_up "minik8s-bench-scheduler-$setting" "$nodes" "$kwok_args"
  unset MINIK8S_ZONES
  log "setting $setting on cluster $MINIK8S_CLUSTER_NAME"
  cargo bench --locked --bench scheduler -- --setting "$setting" || status=$?
  "$here/down.sh" 2>/dev/null || true
  return "$status"
}

controllers=()
for bench in replicaset deployment endpoints; do
  if wants "$bench"; then controllers+=("$bench"); fi
done
if [ ${#controllers[@]} -gt 0 ]; then
  run_setting limited ""
  run_setting unlimited "--disable-qps-limits"
  for bench in "${controllers[@]}"; do
    cargo bench --locked --bench "$bench" -- --summary
  done
fi
# 10,000 pods, the rollouts' surge and the old pods still terminating, on nodes of 110 pods
# each: 160 nodes (at 120 a slow kwok could leave the nodes full of terminating pods, and the
# bench measured that), no limits. First the ceiling on a cluster of its own, the same size.
if wants scale; then
  cluster_up minik8s-bench-scale-ceiling 160 "--disable-qps-limits"
  log "scale ceiling on cluster $MINIK8S_CLUSTER_NAME"
  cargo bench --locked --bench scale -- --setting unlimited --ceiling
  "$here/down.sh" 2>/dev/null || true
  cluster_up minik8s-bench-scale 160 "--disable-qps-limits"
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
  log "scale on cluster $MINIK8S_CLUSTER_NAME"
  # MINIK8S_SCALE_ARGS: e.g. --minik8s-first
  # shellcheck disable=SC2086
  cargo bench --locked --bench scale -- --setting unlimited ${MINIK8S_SCALE_ARGS:-}
  "$here/down.sh" 2>/dev/null || true
fi
if wants scheduler; then
  run_scheduler_setting limited "" 500
  run_scheduler_setting unlimited "--disable-qps-limits" 500
  run_scheduler_setting unlimited-1000 "--disable-qps-limits" 1000
  cargo bench --locked --bench scheduler -- --summary
fi
