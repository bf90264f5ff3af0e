#!/usr/bin/env python3
"""Bounded soak test (issue #15): UPLOADS uploads from CLIENTS concurrent
clients, mixed with downloads, against one running stowage node; then every
upload that answered 200 is read back byte-exact. Fails on any 5xx, any
mismatch, or RSS growth over RSS_LIMIT_MIB. Standard library only.

Usage: soak.py BASE_URL ACCOUNT SECRET_KEY SERVER_PID
"""
import hashlib, http.client, json, os, random, sys, threading, time, urllib.parse

BASE, ACCOUNT, SECRET, PID = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
UPLOADS = int(os.environ.get("SOAK_UPLOADS", "2000"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "200"))
WARMUP = int(os.environ.get("SOAK_WARMUP", "600"))
RSS_LIMIT_MIB = int(os.environ.get("SOAK_RSS_LIMIT_MIB", "64"))
MAX_SIZE = 256 * 1024
host = urllib.parse.urlparse(BASE).netloc
POOL = os.urandom(MAX_SIZE + 4096)

def rss_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS")

lock = threading.Lock()
stored = {}          # path -> sha256 of the bytes the server accepted
errors = []          # fatal findings
counts = {"upload_200": 0, "upload_other": 0, "download": 0, "range": 0}
next_upload = iter(range(UPLOADS))

def fail(msg):
    with lock:
        errors.append(msg)

def conn():
    return http.client.HTTPConnection(host, timeout=60)

def request(c, method, url, body=None, headers=None):
    c.request(method, url, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if r.status >= 500:
        fail(f"{method} {url} -> {r.status} {data[:200]!r}")
    return r.status, data, r

def upload(c, i, rng):
    size = rng.choice([0, 1, rng.randrange(1, 4096), rng.randrange(1, MAX_SIZE)])
    off = rng.randrange(0, 4096)
    body = POOL[off:off + size]
    path = f"/soak/{i % 50}/f{i}.bin"
    auth = {"authorization": f"Bearer {SECRET}"}
    if rng.random() < 0.7:
        url = f"/v2/accounts/{ACCOUNT}/uploads/binary?filePath={urllib.parse.quote(path)}"
        status, data, _ = request(c, "POST", url, body, {**auth, "content-type": "application/octet-stream"})
    else:
        b = "soakboundary%d" % i
        form = (f"--{b}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"f{i}.bin\"\r\n"
                f"content-type: application/octet-stream\r\n\r\n").encode() + body + f"\r\n--{b}--\r\n".encode()
        url = f"/v2/accounts/{ACCOUNT}/uploads/form_data?filePath={urllib.parse.quote(path)}"
        status, data, _ = request(c, "POST", url, form, {**auth, "content-type": f"multipart/form-data; boundary={b}"})
    if status == 200:
        v = json.loads(data)
        item = v["files"][0] if "files" in v else v
        digest = hashlib.sha256(body).hexdigest()
        if item["etag"] != digest or item["size"] != size:
            fail(f"upload {path}: etag/size {item['etag']}/{item['size']} != {digest}/{size}")
        with lock:
            stored[path] = digest
            counts["upload_200"] += 1
    else:
        with lock:
            counts["upload_other"] += 1

def download(c, rng):
    with lock:
        if not stored:
            return
        path, digest = rng.choice(list(stored.items()))
    url = f"/{ACCOUNT}/raw{urllib.parse.quote(path)}"
    auth = {"authorization": f"Bearer {SECRET}"}
    if rng.random() < 0.3:
        status, data, r = request(c, "GET", url, None, {**auth, "range": "bytes=0-99"})
        if status not in (200, 206, 404):
            fail(f"range {path} -> {status}")
        with lock:
            counts["range"] += 1
        return
    status, data, _ = request(c, "GET", url, None, auth)
    if status == 200 and hashlib.sha256(data).hexdigest() != digest:
        # Overwrites by other clients are impossible (unique paths): a mismatch is a bug.
        fail(f"download {path}: bytes differ")
    with lock:
        counts["download"] += 1

def client(seed):
    rng = random.Random(seed)
    c = conn()
    while not errors:
        with lock:
            i = next(next_upload, None)
        if i is None:
            return
        try:
            upload(c, i, rng)
            download(c, rng)
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            fail(f"client {seed}: {e!r}")
            c = conn()

def run_clients(seed0):
    threads = [threading.Thread(target=client, args=(seed0 + s,)) for s in range(CLIENTS)]
    for t in threads: t.start()
    for t in threads: t.join()

def main():
    global next_upload
    rss_idle = rss_kib()
    # Warm-up (WARMUP uploads, three per client), so the start figure includes what a node
    # holds once it has served this concurrency (connections, pools, allocator
    # arenas); growth after that is what a leak would show.
    next_upload = iter(range(UPLOADS, UPLOADS + WARMUP))
    run_clients(10_000)
    rss_start = rss_kib()
    with lock:
        warm = counts["upload_200"]
        counts["upload_200"] = 0
    next_upload = iter(range(UPLOADS))
    t0 = time.time()
    run_clients(0)
    t_load = time.time() - t0
    # Read every accepted upload back, byte-exact.
    c = conn()
    for path, digest in stored.items():
        status, data, _ = request(c, "GET", f"/{ACCOUNT}/raw{urllib.parse.quote(path)}", None,
                                  {"authorization": f"Bearer {SECRET}"})
        if status != 200 or hashlib.sha256(data).hexdigest() != digest:
            fail(f"read-back {path}: {status}")
    rss_end = rss_kib()
    growth = (rss_end - rss_start) / 1024
    print(json.dumps({**counts, "seconds_load": round(t_load, 1),
                      "uploads_per_s": round(UPLOADS / t_load, 1),
                      "warmup_uploads": warm, "rss_idle_mib": round(rss_idle / 1024, 1),
                      "rss_start_mib": round(rss_start / 1024, 1), "rss_end_mib": round(rss_end / 1024, 1),
                      "rss_growth_mib": round(growth, 1), "errors": len(errors)}))
    for e in errors[:20]:
        print("ERROR:", e, file=sys.stderr)
    if errors:
        sys.exit(1)
    if counts["upload_200"] != UPLOADS:
        sys.exit(f"only {counts['upload_200']} of {UPLOADS} uploads answered 200")
    if growth > RSS_LIMIT_MIB:
        sys.exit(f"RSS grew {growth:.1f} MiB (limit {RSS_LIMIT_MIB})")

main()
