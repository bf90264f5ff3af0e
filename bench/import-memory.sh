#!/usr/bin/env bash
# bench/import-memory.sh: peak memory (RSS, /usr/bin/time -v) of `stowage
# import` and `stowage export` against the number of files, release build,
# SQLite and the local store in a fresh data directory (docs/performance.md,
# "Import and export memory"). Memory must not grow with the count.
#   bash bench/import-memory.sh
#   DRY="10000 1000000" REAL="10000 100000" bash bench/import-memory.sh
# DRY: counts for `import --dry-run` (every file planned, nothing copied);
# REAL: counts for a real import into an empty account, then an export of
# what it imported. Files are 1 byte each, 1000 to a directory, made under
# WORK (default /work/tmp, else /tmp) and deleted at the end. A million
# files take about a minute to make and ~4 GiB of inodes and blocks.
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=${DRY:-"10000 1000000"}; REAL=${REAL:-"10000 100000"}
BASE=${WORK:-/work/tmp}; [ -d "$BASE" ] || BASE=/tmp
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -n "${BIN:-}" ] || { nice cargo build --release -q; BIN=$PWD/target/release/stowage; }
TMP=$(mktemp -d "$BASE/stowage-mem.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

make_tree() {  # make_tree DIR N: N files of 1 byte, 1000 to a directory
  python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.txt"), "wb") as f:
        f.write(b"x")
PY
}

# run LABEL DATA CMD…: the command in data directory DATA under time -v;
# prints "LABEL: peak RSS N MiB, S s" and the summary line.
run() {
  local label=$1 data=$2; shift 2
  ( cd "$data" && /usr/bin/time -v "$@" >"$TMP/out.log" 2>"$TMP/err.log" ) || {
    tail -5 "$TMP/out.log" "$TMP/err.log" >&2; exit 1; }
  local kb secs
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/err.log")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$TMP/err.log")
  printf '%-34s peak RSS %6.1f MiB, %s (m:ss)  | %s\n' "$label" "$(echo "$kb / 1024" | bc -l)" "$secs" \
    "$(grep -E '^(would import|imported|exported)' "$TMP/out.log" | head -1)"
}

account() {  # account DATA: a fresh data directory with one account; prints its id
  mkdir -p "$1"
  (cd "$1" && RUST_LOG=warn "$BIN" accounts create) | awk '{print $NF}' | tail -1
}

echo "== stowage import/export peak memory ($(nproc) cores, $(date -u +%F), $("$BIN" --version 2>/dev/null || echo stowage))"
for n in $DRY; do
  make_tree "$TMP/src-$n" "$n"
  acc=$(account "$TMP/dry-$n")
  run "import --dry-run, $n files" "$TMP/dry-$n" "$BIN" import "$TMP/src-$n" --account "$acc" --to /x --dry-run
  rm -rf "$TMP/dry-$n"
  case " $REAL " in *" $n "*) ;; *) rm -rf "$TMP/src-$n" ;; esac
done
for n in $REAL; do
  [ -d "$TMP/src-$n" ] || make_tree "$TMP/src-$n" "$n"
  acc=$(account "$TMP/real-$n")
  run "import, $n files" "$TMP/real-$n" "$BIN" import "$TMP/src-$n" --account "$acc" --to /x
  rm -rf "$TMP/src-$n"
  run "export, $n files" "$TMP/real-$n" "$BIN" export --account "$acc" /x "$TMP/out-$n"
  [ "$(wc -l < "$TMP/out-$n/manifest.jsonl")" -eq "$n" ] || { echo "manifest: not $n lines" >&2; exit 1; }
  rm -rf "$TMP/real-$n" "$TMP/out-$n"
done
