#!/usr/bin/env bash
# bench/wave3.sh: figures of the wave-3 issues, release build, 127.0.0.1,
# bounded; never a timed assertion in tests.
#   bash bench/wave3.sh        # N=10000 uploads, SMALL=10000 files, LARGE_MIB=2048
# - #26: N uploads of 1 KiB (8 clients) in two alternating rounds, half
#   without and half with one webhook (a receiver on loopback): uploads/s
#   each way, and events/s delivered;
# - #28: the rate limiter's cost: public 1 KiB GET with STOWAGE_RATE_ANONYMOUS
#   off and on (a limit never reached), two servers, wrk pinned as in run.sh,
#   ROUNDS alternating runs, medians;
# - #29: `stowage import` of SMALL files of 1 KiB and of LARGE_MIB MiB in
#   8 files, files/s and MiB/s, against `cp -r` of the same tree on the same disk.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}; SMALL=${SMALL:-10000}; LARGE_MIB=${LARGE_MIB:-2048}
ROUNDS=${ROUNDS:-5}; DUR=${DUR:-5}; SRV_CPU=${SRV_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
for t in wrk curl python3 taskset; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
cargo build --release -q
BIN=$PWD/target/release/stowage
TMP=$(mktemp -d /tmp/stowage-w3.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
start() {  # start DIR PORT [ENV=VALUE…]: a server in DIR; sets ACC, KEY
  local dir=$1 port=$2; shift 2; mkdir -p "$dir"
  ( cd "$dir" && exec env STOWAGE_RATE_UPLOADS=0 STOWAGE_FETCH_ALLOWED_NETWORKS=127.0.0.0/8 \
      STOWAGE_LISTEN=127.0.0.1:$port RUST_LOG=warn "$@" taskset -c "$SRV_CPU" "$BIN" serve >out.log 2>err.log ) &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  ACC=$(awk '/account:/ {print $2}' "$dir/out.log"); KEY=$(awk '/secret key:/ {print $3}' "$dir/out.log")
}
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
rps() { taskset -c "$LOAD_CPU" wrk -t1 -c64 -d${DUR}s "$1" | awk '/Requests\/sec/ {printf "%d\n", $2}'; }

echo "== #26 uploads with and without a webhook ($(nproc) cores, $(date -u +%F))"
start "$TMP/a" 18401
[ "$N" -gt 0 ] && python3 bench/wave3.py uploads "http://127.0.0.1:18401" "$ACC" "$KEY" "$N"

if [ "$ROUNDS" -gt 0 ]; then
echo "== #28 the rate limiter on a public 1 KiB GET"
head -c 1024 /dev/urandom > "$TMP/1k.bin"
start "$TMP/off" 18402 STOWAGE_RATE_ANONYMOUS=0; A1=$ACC; K1=$KEY
start "$TMP/on" 18403 STOWAGE_RATE_ANONYMOUS=1000000; A2=$ACC; K2=$KEY
for p in "18402 $A1 $K1" "18403 $A2 $K2"; do set -- $p
  curl -fs -X POST -H "Authorization: Bearer $3" -H "Content-Type: application/octet-stream" --data-binary @"$TMP/1k.bin" \
    "http://127.0.0.1:$1/v2/accounts/$2/uploads/binary?filePath=/pub/1k.bin" >/dev/null; done
[ -n "$(curl -fsI "http://127.0.0.1:18403/$A2/raw/pub/1k.bin" | grep -i '^ratelimit:')" ] || { echo "the limiter is not on" >&2; exit 1; }
OFF=(); ON=()
for _ in $(seq "$ROUNDS"); do
  OFF+=("$(rps "http://127.0.0.1:18402/$A1/raw/pub/1k.bin")"); ON+=("$(rps "http://127.0.0.1:18403/$A2/raw/pub/1k.bin")")
done
python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'anonymous limit off {a:.0f} req/s, on {b:.0f} req/s (medians of $ROUNDS alternating ${DUR} s runs, server on cpu $SRV_CPU): {b/a:.3f}x')" "$(median "${OFF[@]}")" "$(median "${ON[@]}")"

fi
echo "== #29 import against cp -r"
mkdir -p "$TMP/small" "$TMP/large"
python3 - "$TMP/small" "$SMALL" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 500}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(1024))
PY
for i in $(seq 1 8); do head -c $((LARGE_MIB * 1024 * 1024 / 8)) /dev/urandom > "$TMP/large/l$i.bin"; done
sync
imp() {  # imp TREE FOLDER: seconds of an import into the first server's account
  local t0 t1; t0=$(date +%s.%N)
  ( cd "$TMP/a" && "$BIN" import "$1" --account "$ACC1" --to "$2" --concurrency 4 >"$TMP/import.log" 2>&1 ) \
    || { cat "$TMP/import.log" >&2; exit 1; }
  t1=$(date +%s.%N); tail -1 "$TMP/import.log" >&2; python3 -c "print($t1 - $t0)"
}
cpr() { local t0 t1; t0=$(date +%s.%N); cp -r "$1" "$2"; t1=$(date +%s.%N); rm -rf "$2"; python3 -c "print($t1 - $t0)"; }
ACC1=$(awk '/account:/ {print $2}' "$TMP/a/out.log")
SI=$(imp "$TMP/small" /small); sync; SC=$(cpr "$TMP/small" "$TMP/small-copy"); sync
LI=$(imp "$TMP/large" /large); sync; LC=$(cpr "$TMP/large" "$TMP/large-copy")
python3 -c "
import sys
si, sc, li, lc, n, mib = map(float, sys.argv[1:])
print(f'import {n:.0f} files of 1 KiB: {n/si:.0f} files/s; cp -r {n/sc:.0f} files/s ({sc/si:.2f}x)')
print(f'import {mib:.0f} MiB in 8 files: {mib/li:.0f} MiB/s; cp -r {mib/lc:.0f} MiB/s ({lc/li:.2f}x)')
" "$SI" "$SC" "$LI" "$LC" "$SMALL" "$LARGE_MIB"
