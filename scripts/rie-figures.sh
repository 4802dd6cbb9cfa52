#!/usr/bin/env bash
# `make rie-figures [FN=CheckoutFunction EVENT=events/checkout-form.json RUNS=9]`: the
# function's release bootstrap and a hello-world lambda_runtime bootstrap
# (tools/hello-lambda, outside the workspace), each started RUNS times under AWS's Lambda
# Runtime Interface Emulator against the local emulator, alternating; prints the medians
# of init, first and warm invocation as the RIE reports them (README, "Performance").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fn=${1:-CheckoutFunction} event=${2:-events/checkout-form.json} runs=${3:-9}
scripts/venv.sh sam
binary=$(cargo run --quiet -p kiosk-e2e --bin invoke -- --binary-of "$fn")
cargo build --release --bin "$binary"
(cd tools/hello-lambda && CARGO_TARGET_DIR="$root/target/hello-lambda" cargo build --release --locked)
exec scripts/with-emulator.sh cargo run --quiet -p kiosk-e2e --bin invoke -- --figures \
  "$fn" "$event" "${CARGO_TARGET_DIR:-target}/release/$binary" target/hello-lambda/release/bootstrap "$runs"
