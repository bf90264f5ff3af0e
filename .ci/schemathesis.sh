#!/usr/bin/env bash
# Fuzzes every operation of GET /openapi.json with schemathesis against the
# built binary (a fresh SQLite account, its secret key as Bearer); fails on any
# 5xx, and on an answer the document does not describe (a status it does not
# list, another content type, a body that does not match its schema).
# Usage: .ci/schemathesis.sh path/to/stowage
set -euo pipefail
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
PORT=${STOWAGE_ST_PORT:-18779}
export STOWAGE_DATA_DIR="$DIR" DATABASE_URL="sqlite://$DIR/stowage.db" \
  STOWAGE_STORAGE_URL="file://$DIR/blobs" STOWAGE_LISTEN="127.0.0.1:$PORT" STOWAGE_BOOTSTRAP=false
mkdir -p "$DIR/blobs"
ACC=$("$BIN" accounts create | tail -1)
KEY=$("$BIN" keys create --account "$ACC" --type secret | grep -o 'secret_[A-Za-z0-9]*' | head -1)
"$BIN" serve >"$DIR/server.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
cd "$DIR" # schemathesis keeps a cache in .schemathesis/ of the working directory
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" \
  timeout 300 python3 -m schemathesis.cli run "http://127.0.0.1:$PORT/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance -H "Authorization: Bearer $KEY" --max-examples 20 \
  --request-timeout 10 --warnings off --seed "${STOWAGE_ST_SEED:-1}"
