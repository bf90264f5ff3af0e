#!/usr/bin/env bash
# bench/images.sh: image transformation figures on 127.0.0.1 (release build):
#   bash bench/images.sh           # RUNS=10 by default; needs node + tests/browser deps, python3
# - uncached 12 MP JPEG -> 400 px WebP and AVIF: median latency (1 client) and
#   images/s (2 clients), each request a distinct q so nothing is cached;
# - cached 400 px WebP vs. a raw download of a file of the same size (300 each);
# - peak RSS (VmHWM) while 8 clients each request a 24 MP JPEG resized.
# stowage runs pinned to 2 cores (taskset -c 0,1): 2 image workers.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/stowage
TMP=$(mktemp -d /tmp/stowage-imgbench.XXXXXX)
node bench/make-jpeg.mjs 4000 3000 "$TMP/img12.jpg"
node bench/make-jpeg.mjs 6000 4000 "$TMP/img24.jpg"
mkdir -p "$TMP/st"
PORT=${PORT:-18283}
( cd "$TMP/st" && STOWAGE_RATE_UPLOADS=0 STOWAGE_RATE_TRANSFORMS=0 STOWAGE_LISTEN=127.0.0.1:$PORT RUST_LOG=warn exec taskset -c 0,1 "$BIN" serve >out.log 2>err.log ) &
ST_PID=$!
cleanup() { kill $ST_PID 2>/dev/null || true; wait $ST_PID 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
S=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -fs $S/healthz >/dev/null && break; sleep 0.1; done
ACC=$(awk '/account:/ {print $2}' "$TMP/st/out.log")
KEY=$(awk '/secret key:/ {print $3}' "$TMP/st/out.log")
echo "12 MP source: $(stat -c %s "$TMP/img12.jpg") bytes; 24 MP source: $(stat -c %s "$TMP/img24.jpg") bytes; $(nproc) cores"
python3 bench/images.py "$S" "$ACC" "$KEY" "$ST_PID" "$TMP/img12.jpg" "$TMP/img24.jpg"
