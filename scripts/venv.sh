#!/usr/bin/env bash
# Make (or reuse) a project-local Python venv with pinned tools. Never installs anything
# system-wide. Re-running is cheap: it only reinstalls when the requirements file changed.
#   scripts/venv.sh          -> .venv      (moto: the local AWS emulator)
#   scripts/venv.sh sam      -> .venv-sam  (aws-sam-cli: sam validate --lint)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-dev}" in
  dev) venv="$root/.venv"; req="$root/scripts/requirements-dev.txt" ;;
  sam) venv="$root/.venv-sam"; req="$root/scripts/requirements-sam.txt" ;;
  *) echo "usage: $0 [dev|sam]" >&2; exit 2 ;;
esac
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
