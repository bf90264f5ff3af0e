#!/usr/bin/env bash
# Bounded soak (issue #15): starts one stowage node on 127.0.0.1 (fresh SQLite
# + local store in a temp dir), runs bench/soak.py against it, stops it.
# Usage: bench/soak.sh [path/to/stowage]   (default target/debug/stowage)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-$PWD/target/debug/stowage}
DIR=$(mktemp -d /tmp/stowage-soak.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
# A small download cache, so its (bounded, intended) growth does not hide a leak.
( cd "$DIR" && STOWAGE_RATE_UPLOADS=0 STOWAGE_RATE_TRANSFORMS=0 STOWAGE_LISTEN=127.0.0.1:$PORT STOWAGE_DATA_DIR="$DIR" \
  DATABASE_URL="sqlite://$DIR/db.sqlite" STOWAGE_STORAGE_URL="file://$DIR/blobs" \
  STOWAGE_CACHE_CAPACITY=${STOWAGE_CACHE_CAPACITY:-8388608} RUST_LOG=warn \
  exec "$BIN" serve >"$DIR/out.txt" 2>"$DIR/err.txt" ) &
PID=$!
for _ in $(seq 1 100); do grep -q "public key:" "$DIR/out.txt" 2>/dev/null && break; sleep 0.1; done
ACCOUNT=$(awk '/account:/ {print $2}' "$DIR/out.txt")
SECRET=$(awk '/secret key:/ {print $3}' "$DIR/out.txt")
[ -n "$SECRET" ] || { echo "stowage did not start" >&2; cat "$DIR/err.txt" >&2; exit 1; }
python3 bench/soak.py "http://127.0.0.1:$PORT" "$ACCOUNT" "$SECRET" "$PID"
