#!/usr/bin/env bash
# Starts the local control plane (idempotent): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok's simulated kubelets, all on 127.0.0.1, plus N fake nodes.
#
#   MINIK8S_NODES         number of nodes (default 3): 4 CPU, 16Gi, 110 pods, one zone each
#   MINIK8S_CLUSTER_NAME  cluster name (default minik8s)
#   MINIK8S_KWOKCTL_ARGS  extra arguments for `kwokctl create cluster` (e.g. --disable-qps-limits)
#   MINIK8S_AUDIT         1: the API server writes an audit log (audit-policy.yaml) to
#                         <cluster>/logs/audit.log
#   MINIK8S_METRICS_SERVER  0: no metrics-server (the benches: it scrapes every simulated
#                         node every 15 s, and at 10,000 pods that keeps kwok busy)
#
# Prints the kubeconfig path on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

nodes="${MINIK8S_NODES:-3}"
log() { printf '[cluster-up] %s\n' "$*" >&2; }
t0=$SECONDS

bin="$("$here/build-binaries.sh")"
export PATH="$bin:$PATH" KWOK_KUBECTL_BINARY="$bin/kubectl"

# A cluster keeps the configuration (pod behaviours as KWOK stages) it was created with; one
# made from an older tests/cluster/kwok.yaml is made anew, or tests would run on stale stages.
stamp="$KWOK_WORKDIR/clusters/$MINIK8S_CLUSTER_NAME/minik8s-config.sha256"
audit_args=()
config_files=("$here/kwok.yaml" "$here/versions.env" "$here"/metrics-server/*.yaml)
if [ "${MINIK8S_AUDIT:-0}" = 1 ]; then
  audit_args=(--kube-audit-policy "$here/audit-policy.yaml")
  config_files+=("$here/audit-policy.yaml")
fi
metrics_server="${MINIK8S_METRICS_SERVER:-1}"
config_hash="$({ cat "${config_files[@]}"; echo "metrics-server=$metrics_server"; } | sha256sum | cut -d' ' -f1)"
if kwokctl get clusters 2>/dev/null | grep -qx "$MINIK8S_CLUSTER_NAME" \
  && [ "$(cat "$stamp" 2>/dev/null)" != "$config_hash" ]; then
  log "cluster '$MINIK8S_CLUSTER_NAME' was made from another kwok.yaml, audit or metrics-server setting; making it anew"
  "$here/down.sh" >/dev/null
fi

if [ -f "$MINIK8S_KUBECONFIG" ] && kubectl --kubeconfig "$MINIK8S_KUBECONFIG" get --raw /readyz >/dev/null 2>&1; then
  log "cluster '$MINIK8S_CLUSTER_NAME' is already running"
elif kwokctl get clusters 2>/dev/null | grep -qx "$MINIK8S_CLUSTER_NAME"; then
  log "starting the stopped cluster '$MINIK8S_CLUSTER_NAME'"
  kwokctl start cluster --name "$MINIK8S_CLUSTER_NAME" --wait 120s >&2
else
  log "creating cluster '$MINIK8S_CLUSTER_NAME' (kube $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  # kwok.yaml plus where metrics-server's APIService and Service are (kwokctl runs the process
  # itself and caches what it built from a source by the source's name: a directory named
  # by the files' hash is never stale).
  manifests="$MINIK8S_CACHE/metrics-server-manifests/$(cat "$here"/metrics-server/*.yaml | sha256sum | cut -c1-16)"
  mkdir -p "$manifests" && cp "$here"/metrics-server/*.yaml "$manifests/"
  kwok_config="$KWOK_WORKDIR/minik8s-$MINIK8S_CLUSTER_NAME-kwok.yaml"
  mkdir -p "$KWOK_WORKDIR"
  metrics_args=()
  if [ "$metrics_server" = 1 ]; then
    sed "s|^  bindAddress: 127.0.0.1$|&\n  metricsServerManifests: [\"$manifests\"]|" "$here/kwok.yaml" > "$kwok_config"
    grep -q metricsServerManifests "$kwok_config" || { log "kwok.yaml has no 'bindAddress: 127.0.0.1' option line to add the metrics-server manifests after"; exit 1; }
    metrics_args=(--enable metrics-server --metrics-server-binary "$bin/metrics-server")
  else
    cp "$here/kwok.yaml" "$kwok_config"
  fi
  kwokctl create cluster \
    --name "$MINIK8S_CLUSTER_NAME" \
    --runtime binary \
    --kubeconfig "" \
    --config "$kwok_config" \
    --kube-apiserver-binary "$bin/kube-apiserver" \
    --kube-controller-manager-binary "$bin/kube-controller-manager" \
    --kube-scheduler-binary "$bin/kube-scheduler" \
    --etcd-binary "$bin/etcd" \
    --kwok-controller-binary "$bin/kwok" \
    "${metrics_args[@]}" \
    "${audit_args[@]}" \
    ${MINIK8S_KWOKCTL_ARGS:-} \
    --wait 120s >&2
fi

echo "$config_hash" > "$stamp"

kc() { kubectl --kubeconfig "$MINIK8S_KUBECONFIG" "$@"; }

# kwokctl logs a timeout but exits 0, so check readiness ourselves.
for _ in $(seq 60); do
  kc get --raw /readyz >/dev/null 2>&1 && break
  sleep 1
done
kc get --raw /readyz >/dev/null || { log "kube-apiserver is not ready; see logs in $KWOK_WORKDIR/clusters/$MINIK8S_CLUSTER_NAME/logs"; exit 1; }

log "ensuring $nodes nodes"
"$here/nodes.sh" "$nodes" | kc apply --server-side --field-manager=minik8s-cluster -f - >/dev/null
# kwok marks nodes Ready a few hundred a minute on two cores: give big clusters the time.
kc wait --for=condition=Ready node --all --timeout="$((60 + nodes / 4))s" >/dev/null

# Pods can only be created once the service account controller has made `default`.
for _ in $(seq 60); do
  kc get serviceaccount default -n default >/dev/null 2>&1 && break
  sleep 1
done
kc get serviceaccount default -n default >/dev/null

log "ready in $((SECONDS - t0))s. Use it with:"
log "  export KUBECONFIG=$MINIK8S_KUBECONFIG"
log "  export PATH=$bin:\$PATH   # kubectl $KUBE_VERSION"
echo "$MINIK8S_KUBECONFIG"
