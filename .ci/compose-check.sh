#!/usr/bin/env bash
# Proves docker-compose.yml without a Docker engine:
#  1. it validates against the Compose Specification JSON schema, as written and
#     as `docker compose` reads it on a fresh machine (.env.example interpolated);
#     the validator and the schema come from PyPI (check-jsonschema, which ships
#     the compose-spec schema as `vendor.compose-spec`);
#  2. every image (compose services and the Dockerfile's FROM lines) is pinned to
#     a release (major.minor at least) or a digest, never `latest`;
#  3. no master key is known: the compose file and .env.example give
#     STOWAGE_SECRET_KEY no default value.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash .ci/compose-venv.sh)
CJ="$(dirname "$PY")/check-jsonschema"
fail() { echo "compose-check: $*" >&2; exit 1; }

"$CJ" --builtin-schema vendor.compose-spec docker-compose.yml
RESOLVED=$(mktemp /tmp/compose-resolved.XXXXXX.json)
trap 'rm -f "$RESOLVED"' EXIT
"$PY" .ci/compose_env.py config >"$RESOLVED"
"$CJ" --builtin-schema vendor.compose-spec "$RESOLVED"

# A pinned reference: name:TAG where TAG starts with a version of at least
# major.minor (v2.5.0, 16.13, 1.95.0-bookworm, 12.12-slim), optionally @sha256:…
pinned() {
  [[ $1 =~ ^[a-z0-9./_-]+(:[0-9]+)?/?[a-z0-9./_-]*:v?[0-9]+\.[0-9]+[A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?$ ]] ||
    [[ $1 =~ @sha256:[0-9a-f]{64}$ ]]
}
undigested=()
while IFS='|' read -r service image build; do
  if [ -z "$image" ]; then
    [ "$build" = build ] || fail "service $service has neither image nor build"
    continue
  fi
  pinned "$image" || fail "service $service: image '$image' is not pinned to a release"
  [[ $image == *@sha256:* ]] || undigested+=("$image")
done < <("$PY" .ci/compose_env.py images)
while read -r image; do
  pinned "$image" || fail "Dockerfile: FROM '$image' is not pinned to a release"
  [[ $image == *@sha256:* ]] || undigested+=("$image")
done < <(awk 'toupper($1) == "FROM" {print $2}' Dockerfile)

key=$("$PY" .ci/compose_env.py env stowage | sed -n 's/^STOWAGE_SECRET_KEY=//p')
[ -z "$key" ] || fail "docker-compose.yml gives STOWAGE_SECRET_KEY a default value"
grep -Eq '^STOWAGE_SECRET_KEY=$' .env.example || fail ".env.example must leave STOWAGE_SECRET_KEY empty"
grep -Eq 'STOWAGE_SECRET_KEY: \$\{STOWAGE_SECRET_KEY:-\}$' docker-compose.yml ||
  fail "docker-compose.yml must pass STOWAGE_SECRET_KEY through as \${STOWAGE_SECRET_KEY:-}"

echo "compose-check: schema valid, every image pinned, no default master key"
if [ ${#undigested[@]} -gt 0 ]; then
  echo "compose-check: note: pinned by tag, not digest: ${undigested[*]}"
fi
