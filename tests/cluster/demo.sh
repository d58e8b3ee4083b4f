#!/usr/bin/env bash
# `make demo`: the built-in Deployment controller and minik8s side by side.
#
# 1. a cluster: KUBECONFIG's, or the local control plane (started if needed, left running);
# 2. the Helm chart (CRDs, RBAC, service account);
# 3. the minik8s controllers as a local process with the chart's service account — so RBAC is
#    the chart's (in a real cluster, `make deploy` runs them in-cluster instead);
# 4. samples/ applied: deployment.yaml and minideployment.yaml, service.yaml and
#    miniservice.yaml over the MiniDeployment's pods;
# 5. `minik8s compare`: both twins of deployment.yaml driven through the same steps at the
#    same moment, a table of what each did, the differences, and an HTML report;
# 6. the Service and the MiniService side by side.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
bin="$("$here/build-binaries.sh")"
export PATH="$bin:$PATH"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -z "${KUBECONFIG:-}" ]; then
  say "starting the local control plane"
  KUBECONFIG="$("$here/up.sh")"
  export KUBECONFIG
fi
namespace="${MINIK8S_DEMO_NAMESPACE:-minik8s-demo}"
release_ns="${RELEASE_NAMESPACE:-minik8s-system}"

say "building minik8s"
(cd "$root" && cargo build --locked --release --bin minik8s --quiet)
minik8s="${CARGO_TARGET_DIR:-$root/target}/release/minik8s"

say "installing the chart into $release_ns (replicas=0: the controllers run locally below)"
# The chart installs the CRDs and keeps them current; CRDs that something else applied (the
# integration tests, `kubectl apply -f crds/`) are brought up to date here and left to it.
crd_flags=()
if kubectl get crd minideployments.minik8s.dev >/dev/null 2>&1 && [ "$(kubectl get crd \
    minideployments.minik8s.dev -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}')" != minik8s ]; then
  kubectl apply --server-side --force-conflicts -f "$root/crds/" >/dev/null
  crd_flags=(--set crds.install=false)
fi
helm upgrade --install minik8s "$root/charts/minik8s" --namespace "$release_ns" --create-namespace \
  --set replicas=0 "${crd_flags[@]}" --wait >/dev/null
kubectl get crd -o name | grep minik8s.dev

say "starting the controllers with the chart's service account"
sa_config="$MINIK8S_CACHE/demo-kubeconfig.yaml"
"$here/sa-kubeconfig.sh" "$release_ns" minik8s "$sa_config"
# A controller-manager left from an earlier demo would hold the lease; stop it.
pkill -f "release/minik8s controller-manager --leader-elect --health-address 127.0.0.1:18080" 2>/dev/null || true
log="$MINIK8S_CACHE/demo-controller-manager.log"
KUBECONFIG="$sa_config" POD_NAMESPACE="$release_ns" nohup "$minik8s" controller-manager --leader-elect \
  --health-address 127.0.0.1:18080 >"$log" 2>&1 &
controllers=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break; sleep 0.2; done
echo "controller-manager pid $controllers, logs in $log, metrics on http://127.0.0.1:18080/metrics"

say "applying samples/ into namespace $namespace"
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$namespace" -f "$root/samples/deployment.yaml" -f "$root/samples/minideployment.yaml" \
  -f "$root/samples/service.yaml" -f "$root/samples/miniservice.yaml"
kubectl rollout status -n "$namespace" deploy/web-builtin --timeout=120s
"$minik8s" rollout status -n "$namespace" mdeploy/web --timeout 120s

say "minik8s compare: the built-in Deployment and its MiniDeployment twin, same steps, same moment"
# Both twins of samples/deployment.yaml in a namespace of their own, driven through create,
# wait, scale, set image, wait, undo, wait; the report has the charts.
report="$MINIK8S_CACHE/demo-compare.html"
"$minik8s" compare -f "$root/samples/deployment.yaml" --namespace "$namespace-compare" --report "$report"

say "the Service web and the MiniService web, over the same pods"
# The endpoints controllers follow the rollout's last pods a moment later.
for _ in $(seq 50); do
  builtin_eps="$(kubectl get endpoints web -n "$namespace" -o jsonpath='{.subsets[*].addresses[*].ip}' 2>/dev/null | wc -w)"
  mini_eps="$(kubectl get miniendpoints web -n "$namespace" -o jsonpath='{.subsets[*].addresses[*].ip}' 2>/dev/null | wc -w)"
  ready="$(kubectl get pods -n "$namespace" -l app=web --field-selector=status.phase=Running --no-headers 2>/dev/null | awk '$2=="1/1"' | wc -l)"
  [ "$builtin_eps" = "$ready" ] && [ "$mini_eps" = "$ready" ] && break
  sleep 0.2
done
printf '%-28s %-36s %s\n' "" "built-in (Service web)" "minik8s (MiniService web)"
printf '%-28s %-36s %s\n' "ready addresses" "$builtin_eps (Endpoints web)" "$mini_eps (MiniEndpoints web)"
printf '%-28s %-36s %s\n' "endpoints in slices" \
  "$(kubectl get endpointslices -n "$namespace" -l kubernetes.io/service-name=web -o jsonpath='{.items[*].endpoints[*].addresses[0]}' | wc -w)" \
  "$(kubectl get endpointslices -n "$namespace" -l kubernetes.io/service-name=mini-web -o jsonpath='{.items[*].endpoints[*].addresses[0]}' | wc -w) (Service mini-web)"
echo
kubectl get svc,msvc -n "$namespace"
echo
kubectl get endpointslices -n "$namespace"

say "the cluster is still up"
cat <<NEXT
  export KUBECONFIG=$KUBECONFIG
  export PATH=$bin:\$PATH
  kubectl get minik8s,deploy,rs,pods -n $namespace
  kubectl get deploy,mdeploy,rs,mrs -n $namespace-compare   # what compare left
  xdg-open $report   # the comparison's charts
  $minik8s rollout undo -n $namespace mdeploy/web
  kill $controllers          # stop the local controllers
  make cluster-down          # remove the local control plane
NEXT
