#!/usr/bin/env bash
# bench/usage-cost.sh: the cost per upload of one build against another
# (#28: the usage/quota update per upload, target within 5 % of the build
# before it landed, 8c5618d).
#   bash bench/usage-cost.sh OLD_BIN NEW_BIN
#     instructions per 1 KiB binary upload under callgrind, each binary
#     (bench/upload-instructions.sh: N=200 uploads, one connection, SQLite);
#   WALL=1 bash bench/usage-cost.sh OLD_BIN NEW_BIN
#     uploads/s instead, on a quiet machine: each server pinned to SRV_CPU,
#     N uploads of 1 KiB by 8 clients (bench/wave3.py's), ROUNDS alternating
#     rounds on fresh servers, medians.
# To build the old one: git worktree add /tmp/pre28 8c5618d &&
#   (cd /tmp/pre28 && CARGO_TARGET_DIR=/tmp/pre28-target cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?old binary}; NEW=${2:?new binary}
if [ -z "${WALL:-}" ]; then
  for b in "$OLD" "$NEW"; do
    printf '%s: ' "$b"; BIN=$b bash bench/upload-instructions.sh | tail -1
  done
  exit 0
fi
N=${N:-4000}; ROUNDS=${ROUNDS:-5}; SRV_CPU=${SRV_CPU:-0}; PORT=${PORT:-18410}
TMP=$(mktemp -d /tmp/stowage-usage.XXXXXX); PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
rate() {  # rate BIN: uploads/s of one fresh server
  local dir; dir=$(mktemp -d "$TMP/s.XXXX")
  ( cd "$dir" && exec env STOWAGE_RATE_UPLOADS=0 STOWAGE_LISTEN=127.0.0.1:$PORT RUST_LOG=warn \
      taskset -c "$SRV_CPU" "$1" serve >out.log 2>err.log ) & PID=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  python3 - "$PORT" "$(awk '/account:/ {print $2}' "$dir/out.log")" "$(awk '/secret key:/ {print $3}' "$dir/out.log")" "$N" <<'PY'
import sys; sys.path.insert(0, "bench")
import wave3
port, acc, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
print(f"{wave3.uploads(f'http://127.0.0.1:{port}', acc, key, n, '/u'):.0f}")
PY
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
A=(); B=()
for _ in $(seq "$ROUNDS"); do A+=("$(rate "$OLD")"); B+=("$(rate "$NEW")"); done
python3 -c "
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
print(f'old {statistics.median(a):.0f} uploads/s {a}, new {statistics.median(b):.0f} uploads/s {b}: new/old {statistics.median(b) / statistics.median(a):.3f} (medians of $ROUNDS alternating rounds, $N uploads of 1 KiB, 8 clients, server on cpu $SRV_CPU)')
" "${A[*]}" "${B[*]}"
