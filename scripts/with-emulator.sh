#!/usr/bin/env bash
# Run a command with the local AWS emulator up (docs/architecture.md, "The local emulator"):
#   scripts/with-emulator.sh cargo test
# Starts moto on a free 127.0.0.1 port, waits until it answers, exports AWS_ENDPOINT_URL,
# a region and dummy credentials, runs the command, and stops the server by PID on any
# exit (success, failure or Ctrl-C). Exits with the command's status.
#
# The emulator is scripts/moto_locked.py (one global lock, the sent-mail endpoint).
# KIOSK_EMULATOR=stock runs moto's own multi-threaded server instead, to show that the
# concurrency tests catch its lost updates; tests that read mail need the locked one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/venv.sh"
py="$root/.venv/bin/python"

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log=$(mktemp -t kiosk-moto.XXXXXX.log)
case "${KIOSK_EMULATOR:-locked}" in
  locked) "$py" "$root/scripts/moto_locked.py" "$port" >"$log" 2>&1 & ;;
  stock) "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 & ;;
  *) echo "with-emulator: KIOSK_EMULATOR must be locked or stock" >&2; exit 2 ;;
esac
pid=$!
stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-emulator: moto exited early:" >&2
    cat "$log" >&2
    exit 1
  fi
  if "$py" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
unset AWS_PROFILE
echo "with-emulator: moto (${KIOSK_EMULATOR:-locked}) on $AWS_ENDPOINT_URL, pid $pid" >&2
"$@"
