#!/usr/bin/env bash
# bench/tus.sh: a 1 GiB tus upload in 8 MiB PATCHes vs /uploads/binary of the
# same file, in one run, release build, 127.0.0.1, default stores (SQLite +
# files). Prints MiB/s of each (best and median of RUNS, alternating, each run
# after the previous file is deleted and written back) and the ratios
# (target ≥ 0.8).
#   bash bench/tus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
for t in curl python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
cargo build --release -q
BIN=$PWD/target/release/stowage
TMP=$(mktemp -d /tmp/stowage-tus-bench.XXXXXX)
mkdir -p "$TMP/st"
head -c $((1024*1024*1024)) /dev/urandom > "$TMP/upload.bin"
( cd "$TMP/st" && STOWAGE_RATE_UPLOADS=0 STOWAGE_RATE_TRANSFORMS=0 STOWAGE_LISTEN=127.0.0.1:18193 RUST_LOG=warn exec "$BIN" serve >out.log 2>err.log ) &
ST_PID=$!
cleanup() { kill $ST_PID 2>/dev/null || true; wait $ST_PID 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
S=http://127.0.0.1:18193
for _ in $(seq 1 100); do curl -fs $S/healthz >/dev/null && break; sleep 0.1; done
ACC=$(awk '/account:/ {print $2}' "$TMP/st/out.log")
KEY=$(awk '/secret key:/ {print $3}' "$TMP/st/out.log")

python3 - "$S" "$ACC" "$KEY" "$TMP/upload.bin" "$RUNS" <<'PY'
import base64, http.client, os, statistics, sys, time, urllib.parse
base, acc, key, path, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
host = urllib.parse.urlparse(base).netloc
# Both clients send from memory, so the client's own disk reads are not timed.
data = memoryview(open(path, "rb").read())
size = len(data)
CHUNK = 8 * 1024 * 1024
auth = {"Authorization": f"Bearer {key}"}

def send(c, method, url, headers, body):
    c.putrequest(method, url)
    for k, v in {**auth, **headers, "Content-Length": str(len(body))}.items():
        c.putheader(k, v)
    c.endheaders()
    if len(body):
        c.send(body)
    r = c.getresponse()
    r.read()
    return r

def binary(n):
    c = http.client.HTTPConnection(host)
    t = time.perf_counter()
    r = send(c, "POST", f"/v2/accounts/{acc}/uploads/binary?filePath=/bench/bin{n}.bin",
             {"Content-Type": "application/octet-stream"}, data)
    assert r.status == 200, r.status
    return time.perf_counter() - t, f"/bench/bin{n}.bin"

def tus(n):
    c = http.client.HTTPConnection(host)
    meta = "filePath " + base64.b64encode(f"/bench/tus{n}.bin".encode()).decode()
    t = time.perf_counter()
    r = send(c, "POST", f"/v2/accounts/{acc}/tus", {"Tus-Resumable": "1.0.0",
             "Upload-Length": str(size), "Upload-Metadata": meta}, b"")
    assert r.status == 201, r.status
    loc = urllib.parse.urlparse(r.getheader("Location")).path
    offset = 0
    while offset < size:
        r = send(c, "PATCH", loc, {"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                 "Content-Type": "application/offset+octet-stream"}, data[offset:offset + CHUNK])
        assert r.status == 204, (r.status, offset)
        offset = int(r.getheader("Upload-Offset"))
    assert r.getheader("Upload-File-Path") == f"/bench/tus{n}.bin"
    return time.perf_counter() - t, f"/bench/tus{n}.bin"

def settle(path):
    # Each run starts alike: the last one's file deleted and its dirty pages
    # written back (otherwise writeback of run n slows run n+1).
    c = http.client.HTTPConnection(host)
    c.request("DELETE", f"/v2/accounts/{acc}/files?filePath={urllib.parse.quote(path)}", headers=auth)
    assert c.getresponse().status == 204
    os.sync()
    time.sleep(0.5)

os.sync()
mib = size / 2**20
bs, ts = [], []
for n in range(runs):
    for f, out in ((binary, bs), (tus, ts)):
        secs, uploaded = f(n)
        out.append(secs)
        settle(uploaded)
b, t = min(bs), min(ts)
print(f"1 GiB /uploads/binary: best {mib/b:7.1f} MiB/s ({b:.2f} s), median {mib/statistics.median(bs):7.1f} MiB/s ({runs} runs)")
print(f"1 GiB tus, 8 MiB PATCHes: best {mib/t:7.1f} MiB/s ({t:.2f} s), median {mib/statistics.median(ts):7.1f} MiB/s ({runs} runs)")
print(f"tus / binary: best {b/t:.2f}, median {statistics.median(bs)/statistics.median(ts):.2f}")
PY
