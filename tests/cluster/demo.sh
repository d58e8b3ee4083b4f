#!/usr/bin/env bash
# `make demo`: the built-in Deployment controller and minik8s side by side.
#
# 1. a cluster: KUBECONFIG's, or the local control plane (started if needed, left running);
# 2. the Helm chart (CRDs, RBAC, service account);
# 3. the minik8s controllers as a local process with the chart's service account — so RBAC is
#    the chart's (in a real cluster, `make deploy` runs them in-cluster instead);
# 4. samples/deployment.yaml and samples/minideployment.yaml, then both rolled to a new image;
# 5. samples/service.yaml and samples/miniservice.yaml over the MiniDeployment's pods;
# 6. a side-by-side view of what each controller did.
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
helm upgrade --install minik8s "$root/charts/minik8s" --namespace "$release_ns" --create-namespace \
  --set replicas=0 --wait >/dev/null
kubectl get crd -o name | grep minik8s.dev

say "starting the controllers with the chart's service account"
token="$(kubectl create token minik8s -n "$release_ns" --duration 24h)"
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(kubectl config view --minify --raw --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
sa_config="$MINIK8S_CACHE/demo-kubeconfig.yaml"
cat > "$sa_config" <<CONFIG
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: minik8s, user: {token: "$token"}}]
contexts: [{name: demo, context: {cluster: demo, user: minik8s}}]
current-context: demo
CONFIG
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
"$minik8s" rollout status -n "$namespace" mdeploy/web --timeout 120

say "rolling both to nginx:1.28"
time_rollout() { local start=$SECONDS; "$@" >/dev/null; echo $((SECONDS - start)); }
kubectl set image -n "$namespace" deploy/web-builtin web=nginx:1.28 >/dev/null
"$minik8s" set image -n "$namespace" mdeploy/web web=nginx:1.28 >/dev/null
# The change-cause goes to the new revision, as with `kubectl annotate` after `set image`.
kubectl annotate -n "$namespace" deploy/web-builtin kubernetes.io/change-cause="nginx 1.28" --overwrite >/dev/null
kubectl annotate -n "$namespace" mdeploy/web kubernetes.io/change-cause="nginx 1.28" --overwrite >/dev/null
builtin_s="$(time_rollout kubectl rollout status -n "$namespace" deploy/web-builtin --timeout=120s)"
mini_s="$(time_rollout "$minik8s" rollout status -n "$namespace" mdeploy/web --timeout 120)"

say "side by side"
printf '%-28s %-36s %s\n' "" "built-in Deployment (web-builtin)" "MiniDeployment (web)"
printf '%-28s %-36s %s\n' "rollout to nginx:1.28" "${builtin_s}s" "${mini_s}s (measured after the built-in)"
printf '%-28s %-36s %s\n' "pods (ready/all)" \
  "$(kubectl get pods -n "$namespace" -l app=web-builtin --no-headers | awk '$2=="1/1"{r++} END{print r"/"NR}')" \
  "$(kubectl get pods -n "$namespace" -l app=web --no-headers | awk '$2=="1/1"{r++} END{print r"/"NR}')"
printf '%-28s %-36s %s\n' "current revision" \
  "$(kubectl get deploy web-builtin -n "$namespace" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" \
  "$(kubectl get mdeploy web -n "$namespace" -o jsonpath='{.metadata.annotations.minik8s\.dev/revision}')"
echo
echo "ReplicaSets:"
kubectl get rs -n "$namespace" -l app=web-builtin
echo
echo "MiniReplicaSets:"
kubectl get mrs -n "$namespace" -l app=web
echo
echo "History:"
kubectl rollout history -n "$namespace" deploy/web-builtin | sed 's/^/  /'
"$minik8s" rollout history -n "$namespace" mdeploy/web | sed 's/^/  /'
echo
echo "Scaling events:"
kubectl get events -n "$namespace" --field-selector reason=ScalingReplicaSet \
  -o custom-columns=KIND:.involvedObject.kind,NAME:.involvedObject.name,MESSAGE:.message --sort-by=.metadata.creationTimestamp

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
  $minik8s rollout undo -n $namespace mdeploy/web
  kill $controllers          # stop the local controllers
  make cluster-down          # remove the local control plane
NEXT
