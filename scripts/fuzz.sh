#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads outside input (libFuzzer via cargo-fuzz).
#   scripts/fuzz.sh smoke          every target for a few seconds (CI)
#   scripts/fuzz.sh TARGET [SECS]  one target for longer
# cargo-fuzz needs nightly-only rustc flags; this machine has only the stable toolchain, so
# RUSTC_BOOTSTRAP=1 unlocks them for the fuzz build alone (the product is built without it).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^onrecord-fuzz$'; }

run() {
  local target=$1 seconds=$2
  mkdir -p "fuzz/corpus/$target"
  # Work on a copy of the corpus so a CI run leaves the checked-in seeds unchanged.
  local work
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$target/." "$work/" 2>/dev/null || true
  echo "fuzz $target for ${seconds}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" "$work" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 2>&1 |
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY)' || true
  rm -rf "$work"
  if [ -n "$(ls fuzz/artifacts/"$target" 2>/dev/null)" ]; then
    echo "fuzz $target found a crash: see fuzz/artifacts/$target" >&2
    return 1
  fi
}

case "${1:-smoke}" in
  smoke)
    for target in $(targets); do run "$target" "${FUZZ_SECONDS:-10}"; done
    ;;
  *)
    run "$1" "${2:-300}"
    ;;
esac
