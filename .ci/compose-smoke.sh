#!/usr/bin/env bash
# Proves docker-compose.yml's wiring without a Docker engine: runs the stowage
# binary with the compose file's stowage environment, pointed at this machine's
# PostgreSQL and the S3 server .ci/run started, then upload → download → delete.
# Usage: compose-smoke.sh BIN S3_PORT
set -euo pipefail
BIN=$1; S3_PORT=$2
cd "$(dirname "$0")/.."
# The variables the compose file gives stowage must be the ones this run sets.
want="DATABASE_URL STOWAGE_ALLOWED_ORIGINS STOWAGE_LISTEN STOWAGE_PUBLIC_URL STOWAGE_SECRET_KEY STOWAGE_STORAGE_URL"
got=$(python3 - <<'PY'
import re
text = open("docker-compose.yml").read()
block = text.split("  stowage:", 1)[1].split("\nvolumes:", 1)[0]
env = block.split("environment:", 1)[1]
print(" ".join(sorted(re.findall(r"^\s{6}([A-Z_]+):", env, re.M))))
PY
)
[ "$got" = "$want" ] || { echo "compose env is '$got', expected '$want'" >&2; exit 1; }
grep -q 'STOWAGE_STORAGE_URL: s3://stowage?endpoint=http://s3:9000&allow_http=true' docker-compose.yml

DB=stowage_smoke_$$
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $DB" >/dev/null
curl -fs -X PUT "http://127.0.0.1:$S3_PORT/stowage-smoke" >/dev/null
WORK=$(mktemp -d)
PORT=18480
S=http://127.0.0.1:$PORT
(
  cd "$WORK"
  STOWAGE_LISTEN=127.0.0.1:$PORT STOWAGE_PUBLIC_URL=$S STOWAGE_ALLOWED_ORIGINS= \
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB \
  STOWAGE_STORAGE_URL="s3://stowage-smoke?endpoint=http://127.0.0.1:$S3_PORT&allow_http=true&region=us-east-1&access_key_id=stowage&secret_access_key=stowage-secret" \
  STOWAGE_SECRET_KEY=$(openssl rand -hex 32) RUST_LOG=warn \
  exec "$BIN" serve >out.log 2>err.log
) &
PID=$!
finish() { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $DB" >/dev/null; rm -rf "$WORK"; }
trap finish EXIT
for _ in $(seq 1 100); do curl -fs $S/readyz >/dev/null && break; sleep 0.1; done
curl -fs $S/readyz | grep -q '"database":"postgres"' || { cat "$WORK/err.log"; exit 1; }
ACC=$(awk '/account:/ {print $2}' "$WORK/out.log"); KEY=$(awk '/secret key:/ {print $3}' "$WORK/out.log")
head -c 3000000 /dev/urandom > "$WORK/f.bin"
curl -fs -H "Authorization: Bearer $KEY" --data-binary @"$WORK/f.bin" "$S/v2/accounts/$ACC/uploads/binary?filePath=/smoke/f.bin" | grep -q '"filePath":"/smoke/f.bin"'
curl -fs "$S/$ACC/raw/smoke/f.bin" -o "$WORK/back.bin"
cmp "$WORK/f.bin" "$WORK/back.bin"
curl -fs -X DELETE -H "Authorization: Bearer $KEY" "$S/v2/accounts/$ACC/files?filePath=/smoke/f.bin" -o /dev/null -w '%{http_code}' | grep -q 204
[ "$(curl -s -o /dev/null -w '%{http_code}' "$S/$ACC/raw/smoke/f.bin")" = 404 ]
kill -TERM $PID; wait $PID
echo "compose wiring smoke test: upload → download → delete OK on PostgreSQL + S3"
