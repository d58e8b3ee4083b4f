#!/usr/bin/env bash
# The end-to-end suite (tests/e2e) against minik8s as a user installs it.
#
#   run-e2e.sh        `make e2e`: on a local control plane of its own (or KUBECONFIG's
#                     cluster): helm install, the controller-manager and minik8s-scheduler as
#                     local processes with the chart's service accounts (as `make demo`), the
#                     suite, helm uninstall, nothing of the release left.
#   run-e2e.sh kind   `make e2e-kind` (needs Docker): a kind cluster, the image built and
#                     loaded, the chart installed with the controllers in the cluster, the
#                     same suite, helm uninstall, nothing left, the kind cluster deleted.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:-local}"
# A cluster of its own by default, so that the chart installs the CRDs as on a new cluster.
export MINIK8S_CLUSTER_NAME="${MINIK8S_CLUSTER_NAME:-minik8s-e2e}"
# shellcheck source=env.sh
source "$here/env.sh"
log() { printf '[e2e] %s\n' "$*" >&2; }
bin="$("$here/build-binaries.sh")"
export PATH="$bin:$PATH"
release=minik8s
namespace="${MINIK8S_E2E_RELEASE_NAMESPACE:-minik8s-system}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$mode" = kind ] && [ -z "${MINIK8S_E2E_KEEP:-}" ]; then kind delete cluster --name "$MINIK8S_CLUSTER_NAME" >/dev/null 2>&1 || true; fi
  if [ -n "${started:-}" ]; then "$here/down.sh"; fi
}
trap cleanup EXIT
started=""

case "$mode" in
  local)
    if [ -z "${KUBECONFIG:-}" ]; then
      started=yes
      KUBECONFIG="$("$here/up.sh")"
      export KUBECONFIG
    fi
    image_values=(--set replicas=0 --set scheduler.replicas=0)
    ;;
  kind)
    command -v docker >/dev/null || { log "make e2e-kind needs Docker; on a machine without it, run make e2e"; exit 1; }
    if ! command -v kind >/dev/null; then
      log "installing kind $KIND_VERSION from sigs.k8s.io/kind (Go module)"
      GOBIN="$bin" go install "sigs.k8s.io/kind@$KIND_VERSION"
    fi
    kind delete cluster --name "$MINIK8S_CLUSTER_NAME" >/dev/null 2>&1 || true
    kind create cluster --name "$MINIK8S_CLUSTER_NAME" --wait 120s
    KUBECONFIG="$MINIK8S_CACHE/kind-$MINIK8S_CLUSTER_NAME.kubeconfig"
    kind get kubeconfig --name "$MINIK8S_CLUSTER_NAME" > "$KUBECONFIG"
    export KUBECONFIG
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
    log "building the image minik8s:$version and loading it into kind"
    docker build -t "minik8s:$version" "$root"
    kind load docker-image "minik8s:$version" --name "$MINIK8S_CLUSTER_NAME"
    image_values=(--set image.tag="$version" --set image.pullPolicy=Never)
    ;;
  *) log "unknown mode $mode (local or kind)"; exit 2 ;;
esac
log "cluster: $(kubectl config current-context)"

# CRDs that something other than a release applied (integration tests on a shared cluster)
# stay theirs, as `make demo` does.
crd_flags=()
if kubectl get crd minideployments.minik8s.dev >/dev/null 2>&1 && [ -z "$(kubectl get crd \
    minideployments.minik8s.dev -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}')" ]; then
  crd_flags=(--set crds.install=false)
fi
log "helm install $release into $namespace"
helm install "$release" "$root/charts/minik8s" --namespace "$namespace" --create-namespace \
  "${image_values[@]}" "${crd_flags[@]}" --wait --timeout 5m

cd "$root"
if [ "$mode" = local ]; then
  cargo build --locked --quiet --bin minik8s
  minik8s="${CARGO_TARGET_DIR:-$root/target}/debug/minik8s"
  for component in controller-manager scheduler; do
    account="$release"; port=18180
    if [ "$component" = scheduler ]; then account="$release-scheduler"; port=18181; fi
    config="$MINIK8S_CACHE/e2e-$component.kubeconfig"
    "$here/sa-kubeconfig.sh" "$namespace" "$account" "$config"
    KUBECONFIG="$config" POD_NAMESPACE="$namespace" POD_NAME="e2e-$component" \
      "$minik8s" "$component" --leader-elect --health-address "127.0.0.1:$port" \
      >"$MINIK8S_CACHE/e2e-$component.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { log "$component did not become ready; see $MINIK8S_CACHE/e2e-$component.log"; exit 1; }
    log "$component running as service account $namespace/$account (logs: $MINIK8S_CACHE/e2e-$component.log)"
  done
fi

log "the journeys"
MINIK8S_E2E_RELEASE="$release" MINIK8S_E2E_RELEASE_NAMESPACE="$namespace" \
  cargo test --locked --test e2e -- --test-threads="${MINIK8S_TEST_THREADS:-4}"

for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
pids=()
log "helm uninstall $release"
helm uninstall "$release" --namespace "$namespace" --wait --timeout 2m
selector="app.kubernetes.io/instance=$release"
left="$(kubectl get all,serviceaccounts,roles,rolebindings,poddisruptionbudgets,configmaps,leases -A -l "$selector" -o name)
$(kubectl get clusterroles,clusterrolebindings -l "$selector" -o name)"
if [ -n "$(echo "$left" | tr -d '[:space:]')" ]; then log "left behind by helm uninstall:"; echo "$left" >&2; exit 1; fi
for crd in minideployments minireplicasets miniservices miniendpoints; do
  kubectl get crd "$crd.minik8s.dev" >/dev/null || { log "CRD $crd.minik8s.dev was removed; crds.keep should keep it"; exit 1; }
done
log "passed: nothing of the release left but its CRDs (kept)"
