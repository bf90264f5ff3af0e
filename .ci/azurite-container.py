#!/usr/bin/env python3
"""Creates a blob container on Azurite (the Azure Storage emulator), signed
with the emulator's well-known account key (SharedKey), standard library only.

usage: azurite-container.py http://127.0.0.1:10000 CONTAINER
Exits 0 when the container exists afterwards (201 created, 409 already there).
"""
import base64
import hashlib
import hmac
import sys
import urllib.error
import urllib.request
from email.utils import formatdate

ACCOUNT = "devstoreaccount1"
# Azurite's documented development key (not a secret).
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
       "K1SZFPTOtr/KBHBeksoGMGw==")
VERSION = "2021-08-06"


def main(endpoint: str, container: str) -> int:
    date = formatdate(usegmt=True)
    headers = {"x-ms-date": date, "x-ms-version": VERSION}
    canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers))
    resource = f"/{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container"
    # Content-Encoding, -Language, -Length (empty for 0), -MD5, Content-Type,
    # Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since,
    # Range: only the type is set.
    ctype = "application/octet-stream"
    to_sign = "PUT\n" + "\n" * 4 + ctype + "\n" * 7 + canonical_headers + resource
    sig = base64.b64encode(
        hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    url = f"{endpoint.rstrip('/')}/{ACCOUNT}/{container}?restype=container"
    req = urllib.request.Request(url, method="PUT", data=b"")
    for k, v in headers.items():
        req.add_header(k, v)
    req.add_header("Content-Type", ctype)
    req.add_header("Authorization", f"SharedKey {ACCOUNT}:{sig}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(f"container {container}: {resp.status}")
            return 0
    except urllib.error.HTTPError as e:  # (URLError: not up, raised)
        if e.code == 409:
            print(f"container {container}: already there")
            return 0
        print(f"container {container}: {e.code} {e.read()[:500]!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
