#!/usr/bin/env bash
# Prints the path of krew (kubectl's plugin manager), built from its Go module the first time
# and cached by version.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
dir="$MINIK8S_CACHE/krew-$KREW_VERSION"
if [ ! -x "$dir/krew" ]; then
  echo "[krew] installing krew $KREW_VERSION from sigs.k8s.io/krew (Go module; first time only)" >&2
  mkdir -p "$dir"
  GOFLAGS="-trimpath" GOBIN="$dir" go install "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION"
fi
echo "$dir/krew"
