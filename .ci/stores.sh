# Object stores for CI, sourced by .ci/run: a single-node Garage (S3 that
# checks SigV4 signatures) and Azurite (the Azure Blob emulator). Each is
# installed once into a cache outside the repository that outlives the run
# (STOWAGE_CI_CACHE, default /root/.cache/stowage-ci) and reused when present.
# Garage is AGPL: it is built from crates.io and run as its own process,
# never linked into stowage.
#
# start_garage (once the build is there) sets S3_URL (bucket stowage-ci) and
# S3_FULL_URL (bucket stowage-full, 1 MiB size quota); start_azurite sets
# AZ_URL; start_moto (the fallback while Garage is not built yet) sets S3_URL.
# The caller stops them with stop_stores (on EXIT).

export STOWAGE_CI_CACHE=${STOWAGE_CI_CACHE:-/root/.cache/stowage-ci}
GARAGE_VERSION=2.5.0
AZURITE_VERSION=3.37.0
STORE_PIDS=()
STORE_DIRS=()

stop_garage_build() {
  if [ -n "${GARAGE_BUILD_PID:-}" ] && kill -0 "$GARAGE_BUILD_PID" 2>/dev/null; then
    kill -- "-$GARAGE_BUILD_PID" 2>/dev/null || true
    wait "$GARAGE_BUILD_PID" 2>/dev/null || true
  fi
  GARAGE_BUILD_PID=
}

stop_stores() {
  stop_garage_build
  local pid
  for pid in "${STORE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STORE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  local dir
  for dir in "${STORE_DIRS[@]}"; do rm -rf "$dir"; done
}

# Waits until something listens on 127.0.0.1:$1 (at most $2 seconds).
wait_port() {
  local i
  for i in $(seq 1 "$2"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 1
  done
  return 1
}

GARAGE_BIN="$STOWAGE_CI_CACHE/garage-$GARAGE_VERSION/bin/garage"
GARAGE_BUILD_LOG="$STOWAGE_CI_CACHE/garage-build.log"

# Builds Garage into the cache (a large release build: tens of minutes on 2
# cores). Its target directory is kept in the cache until the binary exists,
# so a build cut short (CI's time limit) goes on where it stopped next time.
install_garage() {
  if [ -x "$GARAGE_BIN" ]; then return 0; fi
  mkdir -p "$STOWAGE_CI_CACHE"
  local started=$SECONDS
  CARGO_TARGET_DIR="$STOWAGE_CI_CACHE/garage-build-target" \
    CARGO_INSTALL_ROOT="$STOWAGE_CI_CACHE/garage-$GARAGE_VERSION" \
    nice -n 10 cargo install garage --version "$GARAGE_VERSION" --locked || return 1
  rm -rf "$STOWAGE_CI_CACHE/garage-build-target"
  echo "garage $GARAGE_VERSION built in $((SECONDS - started)) s"
}

# Starts the build in the background when the binary is missing (it then
# uses the CPU the test steps leave idle); wait_garage_build waits for it.
begin_garage_build() {
  GARAGE_BUILD_PID=
  if [ -x "$GARAGE_BIN" ]; then return 0; fi
  echo "building garage $GARAGE_VERSION in the background (once; cached in $STOWAGE_CI_CACHE, log $GARAGE_BUILD_LOG)"
  mkdir -p "$STOWAGE_CI_CACHE"
  # Its own process group, so that stopping it stops cargo and rustc too.
  setsid bash -c 'source .ci/stores.sh && install_garage' >"$GARAGE_BUILD_LOG" 2>&1 &
  GARAGE_BUILD_PID=$!
  GARAGE_BUILD_STARTED=$SECONDS
}

# Waits for the background build, at most until $1 seconds after it began;
# returns 1 (build left running for the next run's cache) if not done.
wait_garage_build() {
  if [ -z "${GARAGE_BUILD_PID:-}" ]; then [ -x "$GARAGE_BIN" ]; return; fi
  while kill -0 "$GARAGE_BUILD_PID" 2>/dev/null; do
    if [ $((SECONDS - GARAGE_BUILD_STARTED)) -ge "$1" ]; then
      echo "garage build not done after $1 s; stopped (it resumes on the next run)"
      stop_garage_build
      return 1
    fi
    sleep 5
  done
  wait "$GARAGE_BUILD_PID" || { tail -20 "$GARAGE_BUILD_LOG" >&2; return 1; }
  tail -1 "$GARAGE_BUILD_LOG"
  [ -x "$GARAGE_BIN" ]
}

start_garage() {
  local s3_port=${GARAGE_S3_PORT:-19100} rpc_port=${GARAGE_RPC_PORT:-19101}
  local dir
  dir=$(mktemp -d /tmp/stowage-garage.XXXXXX)
  STORE_DIRS+=("$dir")
  cat >"$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3_port"
TOML
  GARAGE="$GARAGE_BIN -c $dir/garage.toml"
  # The compose file's way: --single-node lays out the cluster,
  # --default-bucket makes the key and the bucket from GARAGE_DEFAULT_*.
  GARAGE_DEFAULT_ACCESS_KEY=GKstowageci GARAGE_DEFAULT_SECRET_KEY=stowage-ci-s3-secret \
    GARAGE_DEFAULT_BUCKET=stowage-ci RUST_LOG=warn \
    $GARAGE server --single-node --default-bucket >"$dir/garage.log" 2>&1 &
  STORE_PIDS+=($!)
  if ! wait_port "$s3_port" 60; then
    echo "Garage did not start on 127.0.0.1:$s3_port" >&2
    cat "$dir/garage.log" >&2
    return 1
  fi
  local creds="allow_http=true&region=us-east-1&access_key_id=GKstowageci&secret_access_key=stowage-ci-s3-secret"
  S3_URL="s3://stowage-ci?endpoint=http://127.0.0.1:$s3_port&$creds"
  # A second bucket with a 1 MiB size quota: a store that is full.
  S3_FULL_URL=
  if $GARAGE bucket create stowage-full >/dev/null \
    && $GARAGE bucket allow --read --write --owner --key GKstowageci stowage-full >/dev/null \
    && $GARAGE bucket set-quotas --max-size 1MiB stowage-full >/dev/null; then
    S3_FULL_URL="s3://stowage-full?endpoint=http://127.0.0.1:$s3_port&$creds"
  else
    echo "NOTICE: no quota bucket on Garage; the 'bucket full' test is skipped" >&2
  fi
}

install_azurite() {
  local root="$STOWAGE_CI_CACHE/azurite-$AZURITE_VERSION"
  AZURITE_BIN="$root/node_modules/.bin/azurite-blob"
  if [ -x "$AZURITE_BIN" ]; then return 0; fi
  mkdir -p "$root"
  npm install --prefix "$root" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
}

start_azurite() {
  install_azurite
  local port=${AZURITE_PORT:-19200}
  local dir
  dir=$(mktemp -d /tmp/stowage-azurite.XXXXXX)
  STORE_DIRS+=("$dir")
  "$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" --silent \
    --skipApiVersionCheck --disableTelemetry >"$dir/azurite.log" 2>&1 &
  STORE_PIDS+=($!)
  if ! wait_port "$port" 180; then
    echo "Azurite did not start on 127.0.0.1:$port" >&2
    cat "$dir/azurite.log" >&2
    return 1
  fi
  # object_store reaches the emulator here (default: port 10000).
  export AZURITE_BLOB_STORAGE_URL="http://127.0.0.1:$port"
  python3 .ci/azurite-container.py "$AZURITE_BLOB_STORAGE_URL" stowage-ci
  AZ_URL="az://stowage-ci?use_emulator=true"
}

# moto (PyPI): the S3 server for a run whose Garage build is not done yet.
# It checks no signatures, so that run says so loudly.
start_moto() {
  if ! command -v moto_server >/dev/null 2>&1; then
    python3 -m pip install --quiet 'moto[server]'
    hash -r
  fi
  local port=${MOTO_PORT:-19000}
  moto_server -H 127.0.0.1 -p "$port" >/tmp/stowage-moto.log 2>&1 &
  STORE_PIDS+=($!)
  wait_port "$port" 60 || { cat /tmp/stowage-moto.log >&2; return 1; }
  curl -fs -X PUT "http://127.0.0.1:$port/stowage-ci" >/dev/null
  S3_URL="s3://stowage-ci?endpoint=http://127.0.0.1:$port&allow_http=true&region=us-east-1&access_key_id=test&secret_access_key=test"
}
