#!/usr/bin/env bash
# bench/tus.sh: a 1 GiB tus upload in 8 MiB PATCHes vs /uploads/binary of the
# same file, in one run, release build, 127.0.0.1, default stores (SQLite +
# files). Prints MiB/s of each (best of RUNS) and the ratio (target ≥ 0.8).
#   bash bench/tus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
for t in curl python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
cargo build --release -q
BIN=$PWD/target/release/stowage
TMP=$(mktemp -d /tmp/stowage-tus-bench.XXXXXX)
mkdir -p "$TMP/st"
head -c $((1024*1024*1024)) /dev/urandom > "$TMP/upload.bin"
( cd "$TMP/st" && STOWAGE_LISTEN=127.0.0.1:18193 RUST_LOG=warn exec "$BIN" serve >out.log 2>err.log ) &
ST_PID=$!
cleanup() { kill $ST_PID 2>/dev/null || true; wait $ST_PID 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
S=http://127.0.0.1:18193
for _ in $(seq 1 100); do curl -fs $S/healthz >/dev/null && break; sleep 0.1; done
ACC=$(awk '/account:/ {print $2}' "$TMP/st/out.log")
KEY=$(awk '/secret key:/ {print $3}' "$TMP/st/out.log")

python3 - "$S" "$ACC" "$KEY" "$TMP/upload.bin" "$RUNS" <<'PY'
import base64, http.client, os, sys, time, urllib.parse
base, acc, key, path, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
host = urllib.parse.urlparse(base).netloc
size = os.path.getsize(path)
CHUNK = 8 * 1024 * 1024
auth = {"Authorization": f"Bearer {key}"}

def binary(n):
    c = http.client.HTTPConnection(host)
    with open(path, "rb") as f:
        t = time.perf_counter()
        c.request("POST", f"/v2/accounts/{acc}/uploads/binary?filePath=/bench/bin{n}.bin", body=f,
                  headers={**auth, "Content-Type": "application/octet-stream", "Content-Length": str(size)})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        return time.perf_counter() - t

def tus(n):
    c = http.client.HTTPConnection(host)
    meta = "filePath " + base64.b64encode(f"/bench/tus{n}.bin".encode()).decode()
    t = time.perf_counter()
    c.request("POST", f"/v2/accounts/{acc}/tus", headers={**auth, "Tus-Resumable": "1.0.0",
              "Upload-Length": str(size), "Upload-Metadata": meta, "Content-Length": "0"})
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
    loc = urllib.parse.urlparse(r.getheader("Location")).path
    offset = 0
    with open(path, "rb") as f:
        while offset < size:
            chunk = f.read(CHUNK)
            c.request("PATCH", loc, body=chunk, headers={**auth, "Tus-Resumable": "1.0.0",
                      "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
            r = c.getresponse(); r.read()
            assert r.status == 204, (r.status, offset)
            offset = int(r.getheader("Upload-Offset"))
    assert r.getheader("Upload-File-Path") == f"/bench/tus{n}.bin"
    return time.perf_counter() - t

mib = size / 2**20
b = t = 1e9
for n in range(runs):
    b = min(b, binary(n)); t = min(t, tus(n))
print(f"1 GiB /uploads/binary (best of {runs}): {mib/b:7.1f} MiB/s ({b:.2f} s)")
print(f"1 GiB tus, 8 MiB PATCHes (best of {runs}): {mib/t:7.1f} MiB/s ({t:.2f} s)")
print(f"tus / binary: {b/t:.2f}")
PY
