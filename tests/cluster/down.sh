#!/usr/bin/env bash
# Stops the local control plane and deletes its data.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
bin="$("$here/build-binaries.sh")"
export PATH="$bin:$PATH"
if kwokctl get clusters 2>/dev/null | grep -qx "$MINIK8S_CLUSTER_NAME"; then
  # A kubeconfig path that does not exist: kwokctl has no context of ours to remove anywhere.
  kwokctl delete cluster --name "$MINIK8S_CLUSTER_NAME" --kubeconfig "$KWOK_WORKDIR/no-kubeconfig" >&2
else
  echo "[cluster-down] no cluster '$MINIK8S_CLUSTER_NAME'" >&2
fi
