"""Driver of bench/upload-instructions.sh (stdlib only): N binary uploads of
1 KiB on one keep-alive connection to a server running under callgrind,
after a warm-up; with HOOK=1 one webhook (file.created) is subscribed to a
receiver on loopback answering 200, and the count waits until every event
of the measured uploads was delivered, so the worker's cost is included.

  upload_instr.py PORT TMP N HOOK KEEPALIVE
Prints "instructions/upload" (callgrind totals / N).
"""
import http.client, http.server, json, os, re, subprocess, sys, threading, time

port, tmp, n, hook, keepalive = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1"
out = open(f"{tmp}/st/out.log").read()
acc = re.search(r"account:\s+(\S+)", out).group(1)
key = re.search(r"secret key:\s+(\S+)", out).group(1)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
body = os.urandom(1024)

class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1" if keepalive else "HTTP/1.0"
    seen, lock = set(), threading.Lock()
    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("content-length", 0)))
        if json.loads(data).get("type") == "file.created":
            with Receiver.lock:
                Receiver.seen.add(self.headers.get("webhook-id"))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a):
        pass

def upload(i, prefix):
    c.request("POST", f"/v2/accounts/{acc}/uploads/binary?filePath=/{prefix}/{i}.bin", body=body,
              headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"})
    r = c.getresponse(); data = r.read()
    assert r.status == 200, (r.status, data[:200])

def wait_seen(want):
    deadline = time.time() + 600
    while len(Receiver.seen) < want and time.time() < deadline:
        time.sleep(0.02)
    assert len(Receiver.seen) >= want, (len(Receiver.seen), want)

if hook:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    c.request("POST", f"/v2/accounts/{acc}/webhooks", json.dumps({
        "url": f"http://127.0.0.1:{srv.server_port}/hook", "events": ["file.created"]}),
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = c.getresponse(); r.read(); assert r.status == 201, r.status
warm = 50
for i in range(warm):
    upload(i, "warm")
if hook:
    wait_seen(warm)
subprocess.run(["callgrind_control", "--zero"], capture_output=True, check=True)
t = time.perf_counter()
for i in range(n):
    upload(i, "m")
if hook:
    wait_seen(warm + n)
secs = time.perf_counter() - t
subprocess.run(["callgrind_control", "--dump"], capture_output=True, check=True)
files = sorted((f for f in os.listdir(tmp) if f.startswith("cg.")), key=lambda f: os.path.getmtime(f"{tmp}/{f}"))
text = open(f"{tmp}/{files[-1]}").read()
m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
print(f"{int(m.group(1)) / n:.0f} instructions/upload ({n} uploads of 1 KiB, "
      f"{'one webhook' if hook else 'no webhook'}{', keep-alive receiver' if hook and keepalive else ''}, {secs:.1f} s under callgrind)")
