#!/usr/bin/env bash
# Writes a kubeconfig that authenticates as a service account (a fresh 24 h token) to the
# cluster of the current KUBECONFIG: how `make demo` and `make e2e` run the controllers as a
# local process with exactly the chart's permissions.
#   sa-kubeconfig.sh NAMESPACE ACCOUNT OUTPUT
set -euo pipefail
namespace="$1" account="$2" output="$3"
token="$(kubectl create token "$account" -n "$namespace" --duration 24h)"
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(kubectl config view --minify --raw --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
cat > "$output" <<CONFIG
apiVersion: v1
kind: Config
clusters: [{name: cluster, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: $account, user: {token: "$token"}}]
contexts: [{name: $account, context: {cluster: cluster, user: $account, namespace: $namespace}}]
current-context: $account
CONFIG
