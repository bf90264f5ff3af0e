#!/usr/bin/env bash
# bench/instructions.sh: CPU instructions per request (valgrind callgrind),
# for comparing changes to the request path. Instruction counts do not move
# with machine load the way wall-clock figures do (docs/performance.md).
#   bash bench/instructions.sh            # N=2000 requests per case
# Cases, each on one keep-alive connection after a warm-up of 200:
#   raw      GET /{acc}/raw/b/same.bin       (public, 7.8 KB random bytes)
#   cached   GET /{acc}/image/b/p.png?w=400&f=webp&q=80   (cached result, same size)
#   key      GET /{acc}/raw/priv/same.bin with Authorization: Bearer <secret key>
#   jwt      the same with an ES256 JWT granting read on /priv/* (bench/helpers.py)
#   cookie   the same JWT as the session cookie access-token-{acc}
#   raw1k    GET /{acc}/raw/b/1k.bin         (public, 1 KiB)
# CASES=raw1k,key runs only those; ANON=N starts the server with
# STOWAGE_RATE_ANONYMOUS=N (bench/ratelimit-instructions.sh: off against on);
# BIN=path measures that binary instead of building this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
for t in valgrind openssl curl python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 2; }; done
if [ -z "${BIN:-}" ]; then cargo build --release -q; BIN=$PWD/target/release/stowage; fi
TMP=$(mktemp -d /tmp/stowage-instr.XXXXXX)
PORT=${PORT:-18295}
mkdir -p "$TMP/st"
( cd "$TMP/st" && STOWAGE_RATE_UPLOADS=0 STOWAGE_RATE_TRANSFORMS=0 STOWAGE_RATE_ANONYMOUS=${ANON:-0} STOWAGE_LISTEN=127.0.0.1:$PORT RUST_LOG=warn exec valgrind --tool=callgrind ${KEEP:+--compress-strings=no --compress-pos=no} \
    --callgrind-out-file="$TMP/cg.%p" "$BIN" serve >out.log 2>err.log ) &
VG=$!
cleanup() { kill $VG 2>/dev/null || true; wait $VG 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ec.pem" 2>/dev/null
openssl ec -in "$TMP/ec.pem" -pubout -out "$TMP/ec.pub" 2>/dev/null
python3 - "$PORT" "$TMP" "$N" "$PWD/bench" "${CASES:-raw,cached,key,jwt,cookie,raw1k}" <<'PY'
import http.client, json, os, re, struct, subprocess, sys, zlib
port, tmp, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
wanted = sys.argv[5].split(",")
sys.path.insert(0, sys.argv[4])
import helpers
out = open(f"{tmp}/st/out.log").read()
acc = re.search(r"account:\s+(\S+)", out).group(1)
key = re.search(r"secret key:\s+(\S+)", out).group(1)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

def req(method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    assert r.status in (200, 201), (r.status, data[:200])
    return data

def json_call(method, path, body):
    req(method, path, json.dumps(body), {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})

def upload(path, data, mime):
    req("POST", f"/v2/accounts/{acc}/uploads/binary?filePath={path}", data,
        {"Authorization": f"Bearer {key}", "Content-Type": mime})

w, h = 640, 480
rows = b"".join(b"\0" + bytes(((x * 3 + y) % 256) for x in range(w) for _ in range(3)) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
upload("/b/p.png", png, "image/png")
cached = f"/{acc}/image/b/p.png?w=400&f=webp&q=80"
size = len(req("GET", cached))
upload("/b/same.bin", os.urandom(size), "application/octet-stream")
upload("/priv/same.bin", os.urandom(size), "application/octet-stream")
upload("/b/1k.bin", os.urandom(1024), "application/octet-stream")
c.request("PUT", f"/v2/accounts/{acc}/folders", json.dumps({"folderPath": "/priv",
          "folderSettings": {"publicPermissions": {"set": True, "value": []}}}),
          {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
r = c.getresponse(); r.read(); assert r.status == 200, r.status
json_call("POST", f"/v2/accounts/{acc}/jwt_keys", {"pem": open(f"{tmp}/ec.pub").read()})
token = helpers.jwt(f"{tmp}/ec.pem", acc)
priv = f"/{acc}/raw/priv/same.bin"
cases = [
    ("raw", f"/{acc}/raw/b/same.bin", {}),
    ("cached", cached, {}),
    ("key", priv, {"Authorization": f"Bearer {key}"}),
    ("jwt", priv, {"Authorization": f"Bearer {token}"}),
    ("cookie", priv, {"Cookie": f"access-token-{acc}={token}"}),
    ("raw1k", f"/{acc}/raw/b/1k.bin", {}),
]
pid = None
for name, path, headers in (c for c in cases if c[0] in wanted):
    for _ in range(200):
        req("GET", path, headers=headers)
    subprocess.run(["callgrind_control", "--zero"], capture_output=True, check=True)
    for _ in range(n):
        req("GET", path, headers=headers)
    dump = subprocess.run(["callgrind_control", "--dump"], capture_output=True, text=True, check=True)
    files = sorted((f for f in os.listdir(tmp) if f.startswith("cg.")), key=lambda f: os.path.getmtime(f"{tmp}/{f}"))
    total = 0
    text = open(f"{tmp}/{files[-1]}").read()
    m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    total = int(m.group(1))
    length = 1024 if name == "raw1k" else size
    print(f"{name:7s} {length} B: {total / n:9.0f} instructions/request ({n} requests)")
PY
