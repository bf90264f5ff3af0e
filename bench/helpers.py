#!/usr/bin/env python3
"""Helpers for bench/run.sh, stdlib only (plus the openssl command).

  helpers.py jwt PRIVATE_PEM ACCOUNT          -> an ES256 JWT (1 h) on stdout
  helpers.py multipart BASE ACCOUNT KEY SIZE  -> seconds the completing confirmation took
"""
import base64
import concurrent.futures
import json
import subprocess
import sys
import time
import urllib.request


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_to_raw(der: bytes) -> bytes:
    """An ECDSA DER signature (SEQUENCE of two INTEGERs) as JOSE's r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2 : i + 2 + n].lstrip(b"\x00")
        out += v.rjust(32, b"\x00")
        i += 2 + n
    return out


def jwt(pem_path: str, account: str) -> str:
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT"}
    claims = {
        "sub": "bench",
        "accountId": account,
        "iat": now,
        "exp": now + 3600,
        "access": {
            "pathPermissions": [
                {"match": {"path": "/priv", "scope": "Children"}, "permissions": {"read": True}}
            ]
        },
    }
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    der = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", pem_path],
        input=signing_input.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return f"{signing_input}.{b64url(der_to_raw(der))}"


def call(method, url, key=None, body=None, data=None):
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=600) as r:
        raw = r.read()
        return r.headers, (json.loads(raw) if raw and r.headers.get_content_type() == "application/json" else raw)


def multipart(base: str, account: str, key: str, size: int) -> float:
    api = f"{base}/v2/accounts/{account}"
    _, begun = call("POST", f"{api}/uploads", key, {"size": size, "protocol": "1.1", "path": f"/mp/{time.time_ns()}.bin"})
    uid, count = begun["uploadId"], begun["uploadParts"]["count"]
    chunk = bytes(8 * 1024 * 1024)

    def put(i):
        _, part = call("GET", f"{api}/uploads/{uid}/parts/{i}", key)
        r = part["range"]
        n = r["inclusiveEnd"] + 1 - r["inclusiveStart"]
        headers, _ = call("PUT", part["uploadUrl"], data=chunk[:n])
        return i, headers["ETag"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        etags = dict(pool.map(put, range(count)))
    for i in range(count - 1):
        call("PUT", f"{api}/uploads/{uid}/parts/{i}", key, {"etag": etags[i]})
    t0 = time.perf_counter()
    _, done = call("PUT", f"{api}/uploads/{uid}/parts/{count - 1}", key, {"etag": etags[count - 1]})
    elapsed = time.perf_counter() - t0
    assert done["status"] == "Completed", done
    return elapsed


if __name__ == "__main__":
    if sys.argv[1] == "jwt":
        print(jwt(sys.argv[2], sys.argv[3]))
    elif sys.argv[1] == "multipart":
        print(f"{multipart(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])):.3f}")
    else:
        sys.exit(__doc__)
