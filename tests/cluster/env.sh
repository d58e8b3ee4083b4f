# Shared settings of the local control plane scripts (sourced, not run).
# shellcheck shell=bash
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
MINIK8S_CLUSTER_NAME="${MINIK8S_CLUSTER_NAME:-minik8s}"
MINIK8S_CACHE="${MINIK8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minik8s}"
# kwokctl keeps each cluster's pki, etcd data, logs and kubeconfig under this directory.
export KWOK_WORKDIR="${KWOK_WORKDIR:-$MINIK8S_CACHE/kwok}"
MINIK8S_KUBECONFIG="$KWOK_WORKDIR/clusters/$MINIK8S_CLUSTER_NAME/kubeconfig.yaml"
