#!/usr/bin/env bash
# Runs every test of onrecord on a fresh Debian machine: installs what the tests need if it is
# missing, then formatting, lints, unit/integration/golden/property tests and a short fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

# Debian packages the tests use (real peers and tools, never downloads of our own).
need=()
command -v cc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v sipp >/dev/null || need+=(sip-tester)   # the real SIPREC client of the end-to-end tests
command -v espeak-ng >/dev/null || need+=(espeak-ng)
# Real encoders for the compressed-import transcription test.
command -v flac >/dev/null || need+=(flac)
command -v lame >/dev/null || need+=(lame)
command -v opusenc >/dev/null || need+=(opus-tools)
command -v pip >/dev/null || command -v pip3 >/dev/null || need+=(python3-pip)
# The browser end-to-end test: Debian's Chromium driven by npm playwright-core.
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "Whisper models for the transcription tests (sha256-checked, idempotent)"
bash scripts/fetch-models.sh target/models

log "cargo test"
cargo test --workspace --locked

log "browser end-to-end test (tests/browser)"
[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund)
cargo build -p onrecord --locked
(cd tests/browser && node --test demo.test.mjs)

if [ "${ONRECORD_SKIP_FUZZ:-0}" != 1 ]; then
  log "fuzz smoke run"
  bash scripts/fuzz.sh smoke
fi
