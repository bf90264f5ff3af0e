#!/usr/bin/env bash
# bench/upload-instructions.sh: CPU instructions per 1 KiB binary upload
# (valgrind callgrind; stable under machine load, docs/performance.md).
#   BIN=target/release/stowage N=200 HOOK=0|1 KEEPALIVE=0|1 bash bench/upload-instructions.sh
# One keep-alive connection, 50 uploads of warm-up, then N measured; the
# server's whole process is counted (its background work included: the
# webhook worker's polls, the flushes), divided by N. HOOK=1 subscribes one
# webhook to a loopback receiver (HTTP/1.0 like bench/wave3.py unless
# KEEPALIVE=1) and waits for every delivery before counting stops.
# KEEP=1 keeps the callgrind files (callgrind_annotate --inclusive=yes).
# BIN defaults to this tree's release build (built first); SQLite metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}; HOOK=${HOOK:-0}; KEEPALIVE=${KEEPALIVE:-0}; PORT=${PORT:-18296}
for t in valgrind curl python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
if [ -z "${BIN:-}" ]; then cargo build --release -q; BIN=$PWD/target/release/stowage; fi
TMP=$(mktemp -d /tmp/stowage-upinstr.XXXXXX)
mkdir -p "$TMP/st"
( cd "$TMP/st" && STOWAGE_RATE_UPLOADS=0 STOWAGE_FETCH_ALLOWED_NETWORKS=127.0.0.0/8 STOWAGE_LISTEN=127.0.0.1:$PORT \
    RUST_LOG=warn exec valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" "$BIN" serve >out.log 2>err.log ) &
VG=$!
cleanup() { kill $VG 2>/dev/null || true; wait $VG 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
python3 bench/upload_instr.py "$PORT" "$TMP" "$N" "$HOOK" "$KEEPALIVE"
