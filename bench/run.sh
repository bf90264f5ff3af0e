#!/usr/bin/env bash
# bench/run.sh: the one table. Loads stowage and nginx (the reference, sendfile
# on) with the same files on 127.0.0.1 in one run and prints ratios; every load
# is bounded (DUR seconds). Never used as a timed assertion in tests.
#   apt-get install -y nginx-light wrk libvips-tools && bash bench/run.sh
# Pinned (issue #31): each server runs alone on core SRV_CPU (nginx with one
# worker there; stowage's runtime and image pool size themselves from that
# affinity: one worker each) and wrk (one thread) on core LOAD_CPU, so the two
# never compete for a core. Rows: public / key / JWT / cookie 1 KiB GET (c=64,
# ROUNDS alternating pairs with nginx, medians and spread), p99 and max latency
# at c=8 (ROUNDS alternating runs), one TAIL-second run at c=8 (its max), 100 MiB
# GET (c=1), RSS idle after start + 3 uploads, peak RSS during a 2 GiB upload
# while 100 clients download 100 MiB, the completing confirmation of a 1 GiB
# multipart upload, a 1 GiB binary upload vs cp; then bench/images.sh (image
# rows, with vipsthumbnail on the same file).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-5}
TAIL=${TAIL:-60}
SRV_CPU=${SRV_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
for t in nginx wrk curl python3 openssl taskset; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
cargo build --release -q
BIN=$PWD/target/release/stowage
TMP=$(mktemp -d /tmp/stowage-bench.XXXXXX); chmod 755 "$TMP"
mkdir -p "$TMP/www" "$TMP/logs" "$TMP/tmp" "$TMP/st"
head -c 1024 /dev/urandom > "$TMP/www/1k.bin"
head -c $((100*1024*1024)) /dev/urandom > "$TMP/www/big.bin"
head -c $((1024*1024*1024)) /dev/zero > "$TMP/upload.bin"
chmod -R a+rX "$TMP/www"
sync  # the 1.1 GiB just written must not be written back during the first loads
cat > "$TMP/nginx.conf" <<CONF
user $(id -un);
worker_processes 1; worker_cpu_affinity $(python3 -c "print(format(1 << $SRV_CPU, 'b'))"); pid $TMP/nginx.pid; error_log $TMP/logs/error.log;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $TMP/tmp; proxy_temp_path $TMP/tmp; fastcgi_temp_path $TMP/tmp;
  uwsgi_temp_path $TMP/tmp; scgi_temp_path $TMP/tmp;
  server { listen 127.0.0.1:18181; root $TMP/www; } }
CONF
taskset -c "$SRV_CPU" nginx -c "$TMP/nginx.conf"
( cd "$TMP/st" && STOWAGE_RATE_UPLOADS=0 STOWAGE_RATE_TRANSFORMS=0 STOWAGE_LISTEN=127.0.0.1:18183 RUST_LOG=warn exec taskset -c "$SRV_CPU" "$BIN" serve >out.log 2>err.log ) &
ST_PID=$!
cleanup() { kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; kill $ST_PID 2>/dev/null || true; wait $ST_PID 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
S=http://127.0.0.1:18183
for _ in $(seq 1 50); do curl -fs $S/healthz >/dev/null && break; sleep 0.1; done
ACC=$(awk '/account:/ {print $2}' "$TMP/st/out.log")
KEY=$(awk '/secret key:/ {print $3}' "$TMP/st/out.log")
rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$ST_PID/status; }
up() { curl -fs -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/octet-stream" -T "$2" "$S/v2/accounts/$ACC/uploads/binary?filePath=$1" >/dev/null; }
up /pub/1k.bin "$TMP/www/1k.bin"; up /priv/1k.bin "$TMP/www/1k.bin"; up /pub/big.bin "$TMP/www/big.bin"
sync; sleep 2; IDLE=$(rss)
curl -fs -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"folderPath":"/priv","folderSettings":{"publicPermissions":{"set":true,"value":[]}}}' "$S/v2/accounts/$ACC/folders" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' $S/$ACC/raw/priv/1k.bin)" = 401 ] || { echo "private file is not private" >&2; exit 1; }
# An ES256 key registered for the account, and a JWT granting read on /priv/*.
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ec.pem" 2>/dev/null
openssl ec -in "$TMP/ec.pem" -pubout -out "$TMP/ec.pub" 2>/dev/null
python3 -c "import json,sys; print(json.dumps({'pem': open(sys.argv[1]).read()}))" "$TMP/ec.pub" \
  | curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d @- "$S/v2/accounts/$ACC/jwt_keys" >/dev/null
JWT=$(python3 bench/helpers.py jwt "$TMP/ec.pem" "$ACC")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $JWT" $S/$ACC/raw/priv/1k.bin)" = 200 ] || { echo "JWT read failed" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: access-token-$ACC=$JWT" $S/$ACC/raw/priv/1k.bin)" = 200 ] || { echo "cookie read failed" >&2; exit 1; }

W() { taskset -c "$LOAD_CPU" wrk "$@"; }
# wrk's figures: requests/s, p99 and max latency in ms.
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }
rps() { W -t1 -c64 -d${DUR}s "$@" | awk '/Requests\/sec/ {printf "%d\n", $2}'; }
lat() { local out; out=$(W -t1 -c8 -d${1}s --latency "${@:2}"); echo "$(echo "$out" | awk '$1 == "99%" {print $2}' | ms) $(echo "$out" | awk '$1 == "Latency" {print $4}' | ms)"; }
tps() { W -t1 -c1 -d${DUR}s "$1" | awk '/Transfer\/sec/ {print $2}'; }
tob() { python3 -c "import sys,re; m=re.match(r'([\d.]+)([KMG]?)B',sys.argv[1]); print(float(m[1])*{'':1,'K':2**10,'M':2**20,'G':2**30}[m[2]])" "$1"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
# "median ±spread%" where the spread is (max - min) / median of the rounds.
spread() { python3 -c "import statistics,sys; x=[float(v) for v in sys.argv[1:]]; m=statistics.median(x); print(f'{m:.0f} ±{50*(max(x)-min(x))/m:.0f}%')" "$@"; }
# Each stowage row gets its own nginx baseline: ROUNDS alternating pairs of
# DUR-second runs; the ratio is of the medians.
pair() {  # pair NAME wrk-args… (the stowage URL last); sets NAME_N, NAME_S, NAME_NS, NAME_SS
  local name=$1; shift; local ns=() ss=()
  for _ in $(seq "$ROUNDS"); do
    ns+=("$(rps http://127.0.0.1:18181/1k.bin)"); ss+=("$(rps "$@")")
  done
  printf -v "${name}_N" '%s' "$(median "${ns[@]}")"; printf -v "${name}_S" '%s' "$(median "${ss[@]}")"
  printf -v "${name}_NS" '%s' "$(spread "${ns[@]}")"; printf -v "${name}_SS" '%s' "$(spread "${ss[@]}")"
}
pair P "$S/$ACC/raw/pub/1k.bin"
pair K -H "Authorization: Bearer $KEY" "$S/$ACC/raw/priv/1k.bin"
pair J -H "Authorization: Bearer $JWT" "$S/$ACC/raw/priv/1k.bin"
pair C -H "Cookie: access-token-$ACC=$JWT" "$S/$ACC/raw/priv/1k.bin"
NLS=(); SLS=(); NMAX=0; SMAX=0
for _ in $(seq "$ROUNDS"); do
  read -r p m < <(lat "$DUR" http://127.0.0.1:18181/1k.bin); NLS+=("$p"); NMAX=$(python3 -c "print(max($NMAX, $m))")
  read -r p m < <(lat "$DUR" "$S/$ACC/raw/pub/1k.bin"); SLS+=("$p"); SMAX=$(python3 -c "print(max($SMAX, $m))")
done
NL=$(median "${NLS[@]}"); SL=$(median "${SLS[@]}")
read -r TP99 TMAX < <(lat "$TAIL" "$S/$ACC/raw/pub/1k.bin")
NB=$(tob "$(tps http://127.0.0.1:18181/big.bin)")
SB=$(tob "$(tps "$S/$ACC/raw/pub/big.bin")")

# 1 GiB multipart upload: how long the completing confirmation takes.
MP=$(python3 bench/helpers.py multipart "$S" "$ACC" "$KEY" $((1024*1024*1024)))

# 1 GiB binary upload; baseline: cp on the same disk.
t0=$(date +%s.%N); up /up/1g.bin "$TMP/upload.bin"; t1=$(date +%s.%N)
c0=$(date +%s.%N); cp "$TMP/upload.bin" "$TMP/copy.bin"; c1=$(date +%s.%N)  # neither side fsyncs
rm -f "$TMP/copy.bin"
UPS=$(python3 -c "print(2**30/($t1-$t0))"); CPS=$(python3 -c "print(2**30/($c1-$c0))")

# Peak RSS: a 2 GiB upload while 100 clients download 100 MiB.
cat "$TMP/upload.bin" "$TMP/upload.bin" > "$TMP/upload2.bin"
peak=0
up /up/2g.bin "$TMP/upload2.bin" & UP=$!
W -t1 -c100 -d$((DUR*3))s "$S/$ACC/raw/pub/big.bin" >/dev/null & WRK=$!
while kill -0 $UP 2>/dev/null || kill -0 $WRK 2>/dev/null; do
  r=$(rss); [ "${r:-0}" -gt $peak ] && peak=$r; sleep 0.1
done
wait $UP; wait $WRK || true

row() { printf '%-50s %14s %14s %7s\n' "$@"; }
printf '\n'; row "load ($(nproc) cores: servers on cpu $SRV_CPU, wrk on cpu $LOAD_CPU; $(date -u +%F))" stowage nginx ratio
row "public 1 KiB GET, req/s (c=64, $ROUNDS×${DUR}s)" "$P_SS" "$P_NS" "$(ratio "$P_S" "$P_N")"
row "private 1 KiB GET, Bearer secret key, req/s" "$K_SS" "$K_NS" "$(ratio "$K_S" "$K_N")"
row "private 1 KiB GET, Bearer JWT (ES256), req/s" "$J_SS" "$J_NS" "$(ratio "$J_S" "$J_N")"
row "private 1 KiB GET, session cookie JWT, req/s" "$C_SS" "$C_NS" "$(ratio "$C_S" "$C_N")"
row "p99 latency at c=8, ms (median of $ROUNDS)" "$SL" "$NL" "$(ratio "$SL" "$NL")"
row "max latency at c=8 in those runs, ms" "$SMAX" "$NMAX" ""
row "public 1 KiB GET at c=8 for ${TAIL}s: p99 / max, ms" "$TP99 / $TMAX" "" ""
row "100 MiB GET, MiB/s (c=1)" "$(python3 -c "print(round($SB/2**20))")" "$(python3 -c "print(round($NB/2**20))")" "$(ratio "$SB" "$NB")"
row "1 GiB binary upload, MiB/s (baseline: cp)" "$(python3 -c "print(round($UPS/2**20))")" "$(python3 -c "print(round($CPS/2**20))")" "$(ratio "$UPS" "$CPS")"
row "RSS idle after start + 3 uploads, MiB" "$IDLE" "" ""
row "peak RSS, 2 GiB upload + 100 × 100 MiB GET, MiB" "$peak" "" ""
row "1 GiB multipart: last confirmation, s" "$MP" "" ""

# The image rows, with vipsthumbnail on the same file (their own server).
if [ -z "${NO_IMAGES:-}" ]; then cleanup; trap - EXIT; printf '\n'; bash bench/images.sh; fi
