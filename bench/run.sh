#!/usr/bin/env bash
# bench/run.sh: load stowage and nginx (the reference) with the same files on
# 127.0.0.1 in one run and print ratios. Every load is bounded (DUR seconds).
#   bash bench/run.sh            # needs nginx and wrk: apt-get install -y nginx-light wrk
# Measures: public 1 KiB GET (c=64), private 1 KiB GET with a Bearer key (c=64),
# 100 MiB GET (c=1), 1 GiB upload (vs. cp of the same file on the same disk),
# and stowage's peak RSS during the upload and over the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-8}
for t in nginx wrk curl python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
cargo build --release -q
BIN=$PWD/target/release/stowage
TMP=$(mktemp -d /tmp/stowage-bench.XXXXXX); chmod 755 "$TMP"
mkdir -p "$TMP/www" "$TMP/logs" "$TMP/tmp" "$TMP/st"
head -c 1024 /dev/urandom > "$TMP/www/1k.bin"
head -c $((100*1024*1024)) /dev/urandom > "$TMP/www/big.bin"
head -c $((1024*1024*1024)) /dev/zero > "$TMP/upload.bin"
chmod -R a+rX "$TMP/www"
cat > "$TMP/nginx.conf" <<CONF
user $(id -un);
worker_processes auto; pid $TMP/nginx.pid; error_log $TMP/logs/error.log;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $TMP/tmp; proxy_temp_path $TMP/tmp; fastcgi_temp_path $TMP/tmp;
  uwsgi_temp_path $TMP/tmp; scgi_temp_path $TMP/tmp;
  server { listen 127.0.0.1:18181; root $TMP/www; } }
CONF
nginx -c "$TMP/nginx.conf"
( cd "$TMP/st" && STOWAGE_LISTEN=127.0.0.1:18183 RUST_LOG=warn exec "$BIN" serve >out.log 2>err.log ) &
ST_PID=$!
cleanup() { kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; kill $ST_PID 2>/dev/null || true; wait $ST_PID 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
S=http://127.0.0.1:18183
for _ in $(seq 1 50); do curl -fs $S/healthz >/dev/null && break; sleep 0.1; done
ACC=$(awk '/account:/ {print $2}' "$TMP/st/out.log")
KEY=$(awk '/secret key:/ {print $3}' "$TMP/st/out.log")
up() { curl -fs -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/octet-stream" -T "$2" "$S/v2/accounts/$ACC/uploads/binary?filePath=$1" >/dev/null; }
up /pub/1k.bin "$TMP/www/1k.bin"; up /priv/1k.bin "$TMP/www/1k.bin"; up /pub/big.bin "$TMP/www/big.bin"
curl -fs -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"folderPath":"/priv","folderSettings":{"publicPermissions":{"set":true,"value":[]}}}' "$S/v2/accounts/$ACC/folders" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' $S/$ACC/raw/priv/1k.bin)" = 401 ] || { echo "private file is not private" >&2; exit 1; }

rps() { wrk -t2 -c64 -d${DUR}s "$@" | awk '/Requests\/sec/ {print $2}'; }
tps() { wrk -t1 -c1 -d${DUR}s "$1" | awk '/Transfer\/sec/ {print $2}'; }
tob() { python3 -c "import sys,re; m=re.match(r'([\d.]+)([KMG]?)B',sys.argv[1]); print(float(m[1])*{'':1,'K':2**10,'M':2**20,'G':2**30}[m[2]])" "$1"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

N1=$(rps http://127.0.0.1:18181/1k.bin)
P1=$(rps "$S/$ACC/raw/pub/1k.bin")
K1=$(rps -H "Authorization: Bearer $KEY" "$S/$ACC/raw/priv/1k.bin")
NB=$(tob "$(tps http://127.0.0.1:18181/big.bin)")
SB=$(tob "$(tps "$S/$ACC/raw/pub/big.bin")")

# 1 GiB upload, with stowage's RSS sampled meanwhile; baseline: cp on the same disk.
peak=0
up /up/1g.bin "$TMP/upload.bin" & UP=$!
t0=$(date +%s.%N)
while kill -0 $UP 2>/dev/null; do
  r=$(awk '/VmRSS/ {print $2}' /proc/$ST_PID/status); [ "${r:-0}" -gt $peak ] && peak=$r; sleep 0.1
done
wait $UP
t1=$(date +%s.%N)
c0=$(date +%s.%N); cp "$TMP/upload.bin" "$TMP/copy.bin"; c1=$(date +%s.%N)  # neither side fsyncs
UPS=$(python3 -c "print(2**30/($t1-$t0))"); CPS=$(python3 -c "print(2**30/($c1-$c0))")
HWM=$(awk '/VmHWM/ {print $2}' /proc/$ST_PID/status)

printf '\n%-34s %14s %14s %7s\n' "load ($(nproc) cores, ${DUR}s each)" stowage baseline ratio
printf '%-34s %14.0f %14.0f %7s\n' "public 1 KiB GET, req/s (c=64)" "$P1" "$N1" "$(ratio "$P1" "$N1")"
printf '%-34s %14.0f %14.0f %7s\n' "private 1 KiB GET+Bearer, req/s" "$K1" "$N1" "$(ratio "$K1" "$N1")"
printf '%-34s %14.0f %14.0f %7s\n' "private vs public stowage, req/s" "$K1" "$P1" "$(ratio "$K1" "$P1")"
printf '%-34s %14.1f %14.1f %7s\n' "100 MiB GET, MiB/s (c=1)" "$(python3 -c "print($SB/2**20)")" "$(python3 -c "print($NB/2**20)")" "$(ratio "$SB" "$NB")"
printf '%-34s %14.1f %14.1f %7s\n' "1 GiB upload, MiB/s (vs cp)" "$(python3 -c "print($UPS/2**20)")" "$(python3 -c "print($CPS/2**20)")" "$(ratio "$UPS" "$CPS")"
printf '%-34s %14s\n' "peak RSS during 1 GiB upload" "$((peak/1024)) MiB"
printf '%-34s %14s\n' "peak RSS over the whole run" "$((HWM/1024)) MiB"
