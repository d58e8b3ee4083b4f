#!/usr/bin/env bash
# Runs the integration tests against $KUBECONFIG when it is set; otherwise starts the local
# control plane for them and stops it afterwards (unless it was already running).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

bin="$("$here/build-binaries.sh")"
# The tests call kubectl (printer columns, `kubectl scale`); use the pinned one.
export PATH="$bin:$PATH"

# The compare report's test renders the page in headless Chromium (Debian's package).
MINIK8S_CHROMIUM="$("$here/install-chromium.sh")"
export MINIK8S_CHROMIUM

# krew, for the test that installs the plugin from plugins/minik8s.yaml.
MINIK8S_KREW="$("$here/install-krew.sh")"
export MINIK8S_KREW

started=""
if [ -z "${KUBECONFIG:-}" ]; then
  if ! { [ -f "$MINIK8S_KUBECONFIG" ] && kubectl --kubeconfig "$MINIK8S_KUBECONFIG" get --raw /readyz >/dev/null 2>&1; }; then
    started=yes
    trap '"$here/down.sh"' EXIT
  fi
  # Room for the 1001 pods of the endpoints truncation test (110 pods a node).
  KUBECONFIG="$(MINIK8S_NODES="${MINIK8S_NODES:-12}" "$here/up.sh")"
  export KUBECONFIG
fi
echo "[integration] cluster: $(kubectl config current-context) ($KUBECONFIG)${started:+, stopped afterwards}" >&2

cd "$here/../.."
cargo test --locked --test integration -- --test-threads="${MINIK8S_TEST_THREADS:-4}"
