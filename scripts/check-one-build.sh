#!/usr/bin/env bash
# After `make test` has built the workspace's tests, building the tools as `make dev` and
# `cargo run -p kiosk-cli` do must compile no dependency again: only workspace crates (if
# any). Fails naming the dependencies that were rebuilt, which means
# tools/workspace-hack is stale: run `cargo hakari generate` (docs/architecture.md,
# "One build").
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for pkg in devstack kiosk-cli; do
  out=$(cargo build --quiet -p "$pkg" --message-format=json)
  rebuilt=$(printf '%s\n' "$out" | python3 -c '
import json, sys
seen = set()
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    pid = m.get("package_id", "")
    if m.get("reason") in ("compiler-artifact", "build-script-executed") \
            and m.get("fresh") is False and not pid.startswith("path+file://"):
        seen.add(pid)
print("\n".join(sorted(seen)))
')
  if [ -n "$rebuilt" ]; then
    echo "check-one-build: building $pkg after the tests compiled these dependencies again:" >&2
    printf '  %s\n' $rebuilt >&2
    status=1
  else
    echo "check-one-build: $pkg reuses the test build (no dependency compiled)"
  fi
done
exit $status
