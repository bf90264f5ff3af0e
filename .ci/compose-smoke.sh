#!/usr/bin/env bash
# Proves docker-compose.yml's wiring without a Docker engine: runs the stowage
# binary with the compose file's own stowage environment (as `docker compose`
# resolves it from .env.example), on this machine's PostgreSQL with the compose
# file's database credentials, against the compose file's S3 server when its
# binary is here (Garage: `garage` on PATH or GARAGE_BIN, started with the
# compose file's config and environment), else against the S3 server .ci/run
# started (moto) on S3_PORT. Then: the master key is generated into the data
# directory (0600) and printed about once; upload → download → delete; a
# restart keeps the key; `rotate-secret-key` re-seals a signing key; a known
# key is refused.
# Usage: compose-smoke.sh BIN S3_PORT
set -euo pipefail
BIN=$1; S3_PORT=$2
cd "$(dirname "$0")/.."
PY=$(bash .ci/compose-venv.sh)
fail() { echo "compose-smoke: $*" >&2; exit 1; }

# The variables the compose file gives stowage must be the ones this run sets.
want="DATABASE_URL STOWAGE_ALLOWED_ORIGINS STOWAGE_DATA_DIR STOWAGE_LISTEN STOWAGE_PUBLIC_URL STOWAGE_SECRET_KEY STOWAGE_STORAGE_URL"
declare -A CENV
while IFS='=' read -r k v; do CENV[$k]=$v; done < <("$PY" .ci/compose_env.py env stowage)
got=$(printf '%s\n' "${!CENV[@]}" | sort | xargs)
[ "$got" = "$want" ] || fail "compose env is '$got', expected '$want'"
[ -z "${CENV[STOWAGE_SECRET_KEY]}" ] || fail "the compose file must not default STOWAGE_SECRET_KEY"

WORK=$(mktemp -d)
PORT=18480
S=http://127.0.0.1:$PORT
PIDS=()
DB=stowage_smoke_$$
finish() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap finish EXIT

# PostgreSQL: the compose file's user, password and database name, on this host.
DB_URL=${CENV[DATABASE_URL]}
[[ $DB_URL =~ ^postgres://([^:]+):([^@]*)@postgres:5432/(.+)$ ]] || fail "unexpected DATABASE_URL $DB_URL"
PG_USER=${BASH_REMATCH[1]}; PG_PASS=${BASH_REMATCH[2]}
psql -h 127.0.0.1 -U postgres -d test -qc "DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASS'; END IF; END\$\$" >/dev/null
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $DB OWNER $PG_USER" >/dev/null
DB_URL="postgres://$PG_USER:$PG_PASS@127.0.0.1:5432/$DB"

# S3: the compose file's server when installed here, else moto.
STORE_URL=${CENV[STOWAGE_STORAGE_URL]}
[[ $STORE_URL == s3://*endpoint=http://s3:3900\&* ]] || fail "unexpected STOWAGE_STORAGE_URL $STORE_URL"
BUCKET=${STORE_URL#s3://}; BUCKET=${BUCKET%%\?*}
GARAGE=${GARAGE_BIN:-$(command -v garage || true)}
if [ -n "$GARAGE" ]; then
  GPORT=18490
  "$PY" .ci/compose_env.py content garage-toml \
    | sed -e "s#/var/lib/garage#$WORK/garage#" \
          -e "s#^api_bind_addr = \"\\[::\\]:3900\"#api_bind_addr = \"127.0.0.1:$GPORT\"#" \
          -e "s#127.0.0.1:3901#127.0.0.1:18491#" >"$WORK/garage.toml"
  mapfile -t GCMD < <("$PY" .ci/compose_env.py command s3)
  [ "${GCMD[0]}" = /garage ] || fail "unexpected s3 command ${GCMD[*]}"
  (
    while IFS='=' read -r k v; do export "$k=$v"; done < <("$PY" .ci/compose_env.py env s3)
    exec "$GARAGE" -c "$WORK/garage.toml" "${GCMD[@]:1}" >"$WORK/garage.log" 2>&1
  ) &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$GPORT/" && break; sleep 0.2; done
  curl -s -o /dev/null "http://127.0.0.1:$GPORT/" || { cat "$WORK/garage.log" >&2; fail "Garage did not start"; }
  STORE_URL=${STORE_URL/http:\/\/s3:3900/http://127.0.0.1:$GPORT}
  S3_NAME="Garage ($("$GARAGE" --version 2>/dev/null | head -1))"
else
  curl -fs -X PUT "http://127.0.0.1:$S3_PORT/$BUCKET" >/dev/null || true
  STORE_URL=${STORE_URL/http:\/\/s3:3900/http://127.0.0.1:$S3_PORT}
  S3_NAME="moto (Garage is not installed here)"
fi

DATA="$WORK/data"   # the compose file's stowage-data volume
run() {
  exec env STOWAGE_LISTEN=127.0.0.1:$PORT STOWAGE_PUBLIC_URL=$S \
    STOWAGE_ALLOWED_ORIGINS="${CENV[STOWAGE_ALLOWED_ORIGINS]}" \
    STOWAGE_SECRET_KEY="${CENV[STOWAGE_SECRET_KEY]}" STOWAGE_DATA_DIR="$DATA" \
    DATABASE_URL="$DB_URL" STOWAGE_STORAGE_URL="$STORE_URL" RUST_LOG=warn \
    "$@"
}
serve() {
  (cd "$WORK" && run "$BIN" serve >"$WORK/out$1.log" 2>"$WORK/err$1.log") &
  SERVER=$!; PIDS+=($SERVER)
  for _ in $(seq 1 100); do curl -fs $S/readyz >/dev/null && break; sleep 0.1; done
  curl -fs $S/readyz | grep -q '"database":"postgres"' || { cat "$WORK/err$1.log" >&2; fail "stowage did not become ready"; }
}
stop() { kill -TERM "$SERVER"; wait "$SERVER"; }

serve 1
grep -q 'Generated the master key into' "$WORK/err1.log" || fail "no notice about the generated key"
grep -q 'several nodes must set the same STOWAGE_SECRET_KEY' "$WORK/err1.log" || fail "no multi-node notice"
[ "$(stat -c %a "$DATA/secret_key")" = 600 ] || fail "secret_key is not mode 0600"
KEY1=$(cat "$DATA/secret_key")
grep -q "$KEY1" "$WORK/out1.log" "$WORK/err1.log" && fail "the master key was printed"
ACC=$(awk '/account:/ {print $2}' "$WORK/out1.log"); KEY=$(awk '/secret key:/ {print $3}' "$WORK/out1.log")
head -c 3000000 /dev/urandom > "$WORK/f.bin"
curl -fs -H "Authorization: Bearer $KEY" --data-binary @"$WORK/f.bin" "$S/v2/accounts/$ACC/uploads/binary?filePath=/smoke/f.bin" | grep -q '"filePath":"/smoke/f.bin"'
curl -fs "$S/$ACC/raw/smoke/f.bin" -o "$WORK/back.bin"
cmp "$WORK/f.bin" "$WORK/back.bin"
curl -fs -X DELETE -H "Authorization: Bearer $KEY" "$S/v2/accounts/$ACC/files?filePath=/smoke/f.bin" -o /dev/null -w '%{http_code}' | grep -q 204
[ "$(curl -s -o /dev/null -w '%{http_code}' "$S/$ACC/raw/smoke/f.bin")" = 404 ]
stop

# A restart reads the same key and says nothing about it.
serve 2
[ "$(cat "$DATA/secret_key")" = "$KEY1" ] || fail "the key changed on restart"
grep -q 'Generated the master key' "$WORK/err2.log" && fail "the notice was printed twice"
stop

# Rotation re-seals signing-key secrets and replaces the key file.
(cd "$WORK" && run "$BIN" signing-keys create --account "$ACC" >/dev/null 2>&1)
(cd "$WORK" && run "$BIN" rotate-secret-key 2>"$WORK/rotate.log") || { cat "$WORK/rotate.log" >&2; fail "rotate-secret-key failed"; }
grep -q 're-sealed 1 signing key' "$WORK/rotate.log" || { cat "$WORK/rotate.log" >&2; fail "nothing re-sealed"; }
[ "$(cat "$DATA/secret_key")" != "$KEY1" ] || fail "rotate-secret-key kept the old key"
[ "$(stat -c %a "$DATA/secret_key")" = 600 ] || fail "rotated secret_key is not mode 0600"
serve 3
stop

# Known keys are refused at start.
for bad in "$(printf '0%.0s' $(seq 64))" "$(printf 'a%.0s' $(seq 64))" 0123456789abcdef; do
  if (cd "$WORK" && run env STOWAGE_SECRET_KEY="$bad" "$BIN" serve >/dev/null 2>"$WORK/bad.log"); then
    fail "a bad STOWAGE_SECRET_KEY was accepted"
  fi
  grep -q 'STOWAGE_SECRET_KEY' "$WORK/bad.log" || fail "unclear refusal: $(cat "$WORK/bad.log")"
done

echo "compose wiring smoke test OK on PostgreSQL + $S3_NAME: generated key (0600, notice once), upload → download → delete, restart, rotate-secret-key, bad keys refused"
