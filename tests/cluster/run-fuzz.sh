#!/usr/bin/env bash
# Runs each fuzz target in fuzz/ for $1 seconds (default 60) with cargo-fuzz on the nightly
# toolchain; installs cargo-fuzz (from the Rust crate registry) when it is missing. A crash
# leaves its input under fuzz/artifacts/<target>/ and fails the run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
seconds="${1:-60}"
log() { printf '[fuzz] %s\n' "$*" >&2; }

# libFuzzer's instrumentation needs the nightly compiler.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal || {
    log "no nightly toolchain and rustup could not install one: rustup toolchain install nightly"
    exit 1
  }
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo +nightly install cargo-fuzz --locked
fi
cd "$here/../../fuzz"
# Its own target directory beside the main one: instrumented builds share nothing with it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR-fuzz}"
# cargo-fuzz has no --locked: check here that fuzz/Cargo.lock is current, so the builds below
# use exactly its versions.
if ! cargo +nightly metadata --locked --format-version 1 >/dev/null; then
  log "fuzz/Cargo.lock is out of date (the package's dependencies changed); refresh it from the"
  log "package's lock: cd fuzz && cp ../Cargo.lock . && cargo +nightly metadata --format-version 1 >/dev/null"
  exit 1
fi
for target in $(cargo +nightly fuzz list); do
  log "$target for ${seconds}s"
  out="$(mktemp)"
  if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 >"$out" 2>&1; then
    tail -40 "$out" >&2
    log "$target failed; a crashing input is kept under fuzz/artifacts/$target/"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$out" | sed "s/^/[fuzz] $target /" >&2
  rm -f "$out"
done
