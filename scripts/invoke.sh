#!/usr/bin/env bash
# `make invoke FN=<function> EVENT=<event file> [PROFILE=dev]`: one event through a
# function's real bootstrap, without Docker (README, "Invoke a function locally").
#
# Builds the function's binary for this machine (release by default, as `sam build`
# builds it for arm64; PROFILE=dev takes the debug build, seconds after `make test`),
# then, under a fresh local emulator seeded with the state events/README.md describes,
# runs it under AWS's Lambda Runtime Interface Emulator (from .venv-sam) with the
# environment template.yaml gives the function, and prints the response, the function's
# logs, the RIE's INIT REPORT and the peak RSS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fn=${1:-} event=${2:-} profile=${3:-release}
usage="usage: make invoke FN=<function in template.yaml> EVENT=<event file> [PROFILE=dev]
  e.g. make invoke FN=DownloadFunction EVENT=events/download-landing.json"
if [ -z "$fn" ]; then
  echo "make invoke: FN is missing" >&2; echo "$usage" >&2; exit 2
fi
if [ -z "$event" ]; then
  echo "make invoke: EVENT is missing" >&2; echo "$usage" >&2; exit 2
fi
if [ ! -f "$event" ]; then
  echo "make invoke: no event file $event; the examples are:" >&2
  ls events/*.json | sed 's/^/  /' >&2
  exit 2
fi
case "$profile" in
  release) dir=release; build=(cargo build --release --bin) ;;
  # The whole workspace's feature set, so the test build's dependencies are reused.
  dev) dir=debug; build=(cargo build --workspace --bin) ;;
  *) echo "make invoke: PROFILE must be release or dev, not $profile" >&2; exit 2 ;;
esac
# The RIE ships in the aws-sam-cli wheel.
scripts/venv.sh sam
binary=$(cargo run --quiet -p kiosk-e2e --bin invoke -- --binary-of "$fn")
"${build[@]}" "$binary"
exec scripts/with-emulator.sh cargo run --quiet -p kiosk-e2e --bin invoke -- \
  "$fn" "$event" "${CARGO_TARGET_DIR:-target}/$dir/$binary"
