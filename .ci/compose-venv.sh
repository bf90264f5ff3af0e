#!/usr/bin/env bash
# Prints the python of a virtualenv holding check-jsonschema (from PyPI; it ships
# the Compose Specification schema as `vendor.compose-spec`) and ruamel.yaml,
# creating it on first use. Shared by compose-check.sh and compose-smoke.sh.
set -euo pipefail
VENV=${STOWAGE_CI_VENV:-${TMPDIR:-/tmp}/stowage-compose-venv}
CJ_VERSION=0.39.0
if ! "$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -q "$CJ_VERSION"; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "check-jsonschema==$CJ_VERSION" >&2
fi
echo "$VENV/bin/python"
