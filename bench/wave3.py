"""Wave-3 figures for bench/wave3.sh (stdlib only).

  wave3.py uploads BASE ACCOUNT KEY N       uploads/s without, then with one webhook
                                            (a receiver on loopback), and events/s delivered
Prints one line per figure.
"""
import http.client, http.server, json, os, sys, threading, time, urllib.parse

def uploads(base, acc, key, n, prefix, clients=8):
    u = urllib.parse.urlparse(base)
    body = os.urandom(1024)
    per = n // clients
    def worker(k):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for i in range(per):
            c.request("POST", f"/v2/accounts/{acc}/uploads/binary?filePath={prefix}/{k}/{i}.bin",
                      body=body, headers={"Authorization": f"Bearer {key}",
                                          "Content-Type": "application/octet-stream"})
            r = c.getresponse(); r.read()
            assert r.status == 200, r.status
    t = time.perf_counter()
    th = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    [x.start() for x in th]; [x.join() for x in th]
    return per * clients / (time.perf_counter() - t)

class Receiver(http.server.BaseHTTPRequestHandler):
    seen, first, last, lock = set(), None, None, threading.Lock()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        ev = json.loads(body)
        with Receiver.lock:
            if ev.get("type") == "file.created":
                Receiver.seen.add(self.headers.get("webhook-id"))
                now = time.perf_counter()
                Receiver.first = Receiver.first or now
                Receiver.last = now
        self.send_response(204); self.end_headers()
    def log_message(self, *a):
        pass

def main():
    base, acc, key, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    u = urllib.parse.urlparse(base)
    rounds = []
    for r in range(2):
        # Alternating: without, then with a webhook registered (deleted after).
        plain = uploads(base, acc, key, n // 2, f"/plain{r}")
        c = http.client.HTTPConnection(u.hostname, u.port)
        c.request("POST", f"/v2/accounts/{acc}/webhooks", json.dumps({
            "url": f"http://127.0.0.1:{srv.server_port}/hook", "events": ["file.created"]}),
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        resp = c.getresponse(); hook = json.loads(resp.read()); assert resp.status == 201, hook
        Receiver.seen.clear(); Receiver.first = Receiver.last = None
        t0 = time.perf_counter()
        hooked = uploads(base, acc, key, n // 2, f"/hooked{r}")
        deadline = time.time() + 300
        want = (n // 2) // 8 * 8  # what uploads() sent: 8 clients × an equal share
        while len(Receiver.seen) < want and time.time() < deadline:
            time.sleep(0.05)
        delivered = len(Receiver.seen)
        events_s = delivered / (Receiver.last - t0) if delivered else 0
        c = http.client.HTTPConnection(u.hostname, u.port)  # the first one idled out
        c.request("DELETE", f"/v2/accounts/{acc}/webhooks/{hook['webhookId']}", headers={"Authorization": f"Bearer {key}"})
        c.getresponse().read()
        rounds.append((plain, hooked, delivered, events_s))
        print(f"round {r + 1}: {want} uploads of 1 KiB (8 clients): {plain:.0f}/s without a webhook, "
              f"{hooked:.0f}/s with one ({hooked / plain:.2f}x); {delivered} events delivered, "
              f"{events_s:.0f} events/s from the first upload to the last delivery", flush=True)
    p = sum(r[0] for r in rounds) / len(rounds); h = sum(r[1] for r in rounds) / len(rounds)
    print(f"uploads with a webhook / without, mean of {len(rounds)} alternating rounds: {h / p:.2f}")

if __name__ == "__main__" and sys.argv[1] == "uploads":
    main()
