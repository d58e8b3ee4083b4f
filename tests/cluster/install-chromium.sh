#!/usr/bin/env bash
# Prints the path of a headless Chromium, installing Debian's chromium-headless-shell first
# when none is on the machine. The compare report's browser test renders the page with it.
set -euo pipefail
for candidate in chromium-headless-shell chrome-headless-shell chromium chromium-browser; do
  if path="$(command -v "$candidate")"; then echo "$path"; exit 0; fi
done
for path in /usr/lib/chromium/chrome-headless-shell /usr/lib/chromium-headless-shell/chrome-headless-shell; do
  if [ -x "$path" ]; then echo "$path"; exit 0; fi
done
echo "[chromium] installing chromium-headless-shell from Debian's packages" >&2
if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
"${sudo[@]}" apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null
for path in "$(command -v chromium-headless-shell || true)" /usr/lib/chromium/chrome-headless-shell /usr/lib/chromium-headless-shell/chrome-headless-shell; do
  if [ -n "$path" ] && [ -x "$path" ]; then echo "$path"; exit 0; fi
done
echo "[chromium] installed chromium-headless-shell but found no binary; see dpkg -L chromium-headless-shell" >&2
exit 1
