#!/usr/bin/env bash
# `make chaos`: the whole chaos suite at full size (MINIK8S_CHAOS=full), on a local control
# plane of its own (its API server and etcd are restarted), one scenario at a time, then the
# fuzz targets briefly. Prints the figures table and how long it all took; the figures are in
# target/chaos/*.json.
#
#   MINIK8S_FUZZ_SECONDS   seconds per fuzz target (default 60; 0 skips fuzzing)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export MINIK8S_CLUSTER_NAME="${MINIK8S_CLUSTER_NAME:-minik8s-chaos}"
# shellcheck source=env.sh
source "$here/env.sh"
log() { printf '[chaos] %s\n' "$*" >&2; }
t0=$SECONDS

bin="$("$here/build-binaries.sh")"
export PATH="$bin:$PATH"

trap '"$here/down.sh" >/dev/null 2>&1 || true' EXIT
"$here/down.sh" >/dev/null 2>&1 || true
# 200 replicas with their surge, twice over for the scale-up: 12 nodes of 110 pods.
# The audit log proves which leader wrote what.
KUBECONFIG="$(MINIK8S_NODES=12 MINIK8S_AUDIT=1 "$here/up.sh")"
export KUBECONFIG MINIK8S_CHAOS=full

cd "$root"
rm -rf target/chaos
log "scenarios (full size, one at a time)"
# A failed scenario still leaves its figures; the fuzz targets and the table run either way,
# and the exit status says whether everything held.
status=0
cargo test --locked --test integration chaos:: -- --include-ignored --test-threads=1 --nocapture || status=1

fuzz_seconds="${MINIK8S_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
  "$here/run-fuzz.sh" "$fuzz_seconds" || status=1
fi

python3 - "$root/target/chaos" <<'PY'
import json, pathlib, sys
rows = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
print("\n| scenario | size | figures |\n|---|---|---|")
for r in rows:
    name, size = r.pop("scenario"), r.pop("size")
    show = lambda v: json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else v
    print(f"| {name} | {size} | " + ", ".join(f"{k} {show(v)}" for k, v in r.items()) + " |")
PY
log "done in $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s$([ "$status" = 0 ] || echo '; a scenario or a fuzz target FAILED (above)')"
exit "$status"
