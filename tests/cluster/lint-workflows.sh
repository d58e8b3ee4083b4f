#!/usr/bin/env bash
# Lints .github/workflows with actionlint (built from its Go module, cached by version).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
dir="$MINIK8S_CACHE/actionlint-$ACTIONLINT_VERSION"
if [ ! -x "$dir/actionlint" ]; then
  echo "[lint-workflows] installing actionlint $ACTIONLINT_VERSION from github.com/rhysd/actionlint (Go module; first time only)" >&2
  mkdir -p "$dir"
  GOFLAGS="-trimpath" GOBIN="$dir" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
cd "$here/../.."
"$dir/actionlint" -color .github/workflows/*.yaml
echo "[lint-workflows] $(ls .github/workflows/*.yaml | wc -l) workflow(s) clean" >&2
