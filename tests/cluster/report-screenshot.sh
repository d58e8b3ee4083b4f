#!/usr/bin/env bash
# Renders a `minik8s compare --report` page to a PNG in headless Chromium:
#   tests/cluster/report-screenshot.sh REPORT.html OUT.png [WIDTH,HEIGHT]
# (docs/compare-report.png is made this way from `make demo`'s report.)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
page="$(realpath "$1")"
out="$(realpath -m "$2")"
size="${3:-1100,1900}"
chromium="$("$here/install-chromium.sh")"
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$size" \
  --screenshot="$out" "file://$page" 2>/dev/null
echo "$out"
