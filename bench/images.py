"""Image transformation figures for bench/images.sh (stdlib only).

usage: images.py BASE ACCOUNT KEY PID
Prints median latencies, images/s and the server's peak RSS (VmHWM).
"""
import http.client, statistics, subprocess, shutil, sys, threading, time, urllib.parse, os

BASE, ACC, KEY, PID = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
U = urllib.parse.urlparse(BASE)
RUNS = int(os.environ.get("RUNS", "10"))

def conn():
    return http.client.HTTPConnection(U.hostname, U.port, timeout=120)

def get(c, path, headers=None):
    t = time.perf_counter()
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    return r.status, body, (time.perf_counter() - t) * 1000, r

def hwm_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])

def upload(path, data):
    c = conn()
    c.request("POST", f"/v2/accounts/{ACC}/uploads/binary?filePath={path}", body=data,
              headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/octet-stream"})
    r = c.getresponse(); r.read(); assert r.status == 200, r.status

def med(xs):
    return statistics.median(xs)

def uncached(fmt, q0):
    c, times = conn(), []
    for i in range(RUNS):
        s, body, ms, _ = get(c, f"/{ACC}/image/b/img12.jpg?w=400&f={fmt}&q={q0 + i}")
        assert s == 200, (s, body[:200])
        times.append(ms)
    return times

def throughput(fmt, q0, clients=2, per=RUNS // 2 or 1):
    def worker(k):
        c = conn()
        for i in range(per):
            s, body, _, _ = get(c, f"/{ACC}/image/b/img12.jpg?w=400&f={fmt}&q={q0 + k * per + i}")
            assert s == 200, (s, body[:200])
    t = time.perf_counter()
    th = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    [x.start() for x in th]; [x.join() for x in th]
    return clients * per / (time.perf_counter() - t)

def repeated(path, n=300):
    c, times = conn(), []
    for _ in range(n):
        s, body, ms, _ = get(c, path)
        assert s == 200
        times.append(ms)
    return times, len(body)

def memory():
    before = hwm_kib()
    errs = []
    def worker(k):
        s, body, _, _ = get(conn(), f"/{ACC}/image/b/img24.jpg?w={600 + k}&f=webp")
        if s != 200: errs.append((s, body[:200]))
    th = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    t = time.perf_counter()
    [x.start() for x in th]; [x.join() for x in th]
    assert not errs, errs
    return before, hwm_kib(), time.perf_counter() - t

upload("/b/img12.jpg", open(sys.argv[5], "rb").read())
upload("/b/img24.jpg", open(sys.argv[6], "rb").read())
rss_start = hwm_kib()
print(f"server peak RSS after start and uploads: {rss_start / 1024:.0f} MiB")
for fmt, q0 in (("webp", 1), ("avif", 1)):
    t = uncached(fmt, q0)
    print(f"uncached 12 MP -> 400 px {fmt}: median {med(t):.0f} ms (min {min(t):.0f}, max {max(t):.0f}, {RUNS} runs, 1 client)")
    ips = throughput(fmt, 40)
    print(f"uncached 12 MP -> 400 px {fmt}: {ips:.2f} images/s (2 clients)")
def vips(src, n=RUNS):
    """vipsthumbnail (libvips-tools) on the same file, to the same size and format."""
    out, times = f"{os.path.dirname(src)}/vips-%s.webp", []
    for i in range(n):
        t = time.perf_counter()
        subprocess.run(["vipsthumbnail", src, "-s", "400", "-o", out + "[Q=75]"], check=True)
        times.append((time.perf_counter() - t) * 1000)
    return times

if shutil.which("vipsthumbnail"):
    # q 70-79: not rendered yet in this run (the rows above used 1-10 and 40-49).
    t, v = uncached("webp", 70), vips(sys.argv[5])
    print(f"uncached 12 MP -> 400 px webp: stowage median {med(t):.0f} ms, vipsthumbnail median {med(v):.0f} ms (process start included), ratio {med(t) / med(v):.2f} ({RUNS} each, same file, same run)")
CACHED = f"/{ACC}/image/b/img12.jpg?w=400&f=webp&q=80"
_, size = repeated(CACHED, 1)
upload("/b/same.bin", os.urandom(size))
RAW = f"/{ACC}/raw/b/same.bin"
# Interleaved, one request of each in turn, so drift hits both alike.
cached, raw = [], []
c = conn()
for _ in range(1000):
    for path, out in ((CACHED, cached), (RAW, raw)):
        s, _, ms, _ = get(c, path)
        assert s == 200
        out.append(ms)
print(f"cached 400 px webp ({size} B): median {med(cached):.3f} ms; raw {size} B: median {med(raw):.3f} ms; ratio {med(cached) / med(raw):.2f} (1000 each, interleaved, 1 client)")

def wrk_rps(path):
    out = subprocess.run(["wrk", "-t2", "-c32", "-d3s", BASE + path], capture_output=True, text=True).stdout
    return float(next(l for l in out.splitlines() if l.startswith("Requests/sec")).split()[1])

if shutil.which("wrk"):
    rc, rr = [], []
    for _ in range(3):
        rc.append(wrk_rps(CACHED)); rr.append(wrk_rps(RAW))
    print(f"cached 400 px webp: {med(rc):.0f} req/s; raw: {med(rr):.0f} req/s; ratio {med(rc) / med(rr):.2f} (wrk -t2 -c32, 3 x 3 s each, alternating, medians)")
before, after, secs = memory()
print(f"8 clients x 24 MP JPEG -> 600 px webp: {secs:.1f} s; peak RSS {after / 1024:.0f} MiB (before {before / 1024:.0f} MiB)")
