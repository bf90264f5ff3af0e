#!/usr/bin/env python3
"""Checks what docs/architecture.md says about the code's shape, so the map
stays true: which layer may import which, where SQL, object_store and multer
live, and the size limits (files ~600 lines, functions ~80). Prints every
breach and exits 1 if there is any. Run by .ci/run."""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")

# Layer -> crate modules it must never import (code, not comments).
FORBIDDEN = {
    "domain": ["http", "cli"],
    "auth": ["http", "domain", "state", "outbound"],
    "meta": ["http", "domain", "state", "auth", "blobs", "cache", "outbound"],
    "blobs": ["http", "domain", "state", "auth", "meta", "cache", "outbound"],
    "cache": ["http", "domain", "state", "auth", "outbound"],
    "images": ["http", "domain", "state", "auth", "meta", "blobs", "cache"],
    "outbound": ["http", "domain", "state", "auth", "meta", "blobs", "cache"],
    "state.rs": ["http", "domain"],
}
# Crates only one place may use.
ONLY_IN = {
    "sqlx": ["meta/", "error/", "main.rs"],
    "object_store": ["blobs/", "error/"],
    "multer": ["http/form.rs"],
    "reqwest": ["outbound/"],
}
MAX_FILE_LINES = 600
MAX_FN_LINES = 80


def code_lines(path):
    """The file's lines with comments and string contents blanked out."""
    out = []
    for line in open(path, encoding="utf-8"):
        stripped = line.lstrip()
        if stripped.startswith("//"):
            out.append("")
            continue
        out.append(re.sub(r'"(?:\\.|[^"\\])*"', '""', line.split("//")[0]))
    return out


def layer_of(rel):
    top = rel.split("/")[0]
    return top


def rust_files(base):
    for dirpath, _, names in os.walk(base):
        for n in names:
            if n.endswith(".rs"):
                yield os.path.join(dirpath, n)


def function_lengths(lines):
    """(name, first line, length) of every `fn` with a body, by brace depth."""
    found = []
    i = 0
    while i < len(lines):
        m = re.search(r"\bfn\s+([a-zA-Z_][a-zA-Z0-9_]*)", lines[i])
        if not m:
            i += 1
            continue
        depth, start, j, opened = 0, i, i, False
        while j < len(lines):
            for ch in lines[j]:
                if ch == "{":
                    depth += 1
                    opened = True
                elif ch == "}":
                    depth -= 1
                elif ch == ";" and not opened and depth == 0:
                    break
            else:
                if opened and depth == 0:
                    break
                j += 1
                continue
            break
        if opened:
            found.append((m.group(1), start + 1, j - start + 1))
        i = start + 1
    return found


def main():
    problems = []
    for path in sorted(rust_files(SRC)):
        rel = os.path.relpath(path, SRC).replace(os.sep, "/")
        lines = code_lines(path)
        text = "\n".join(lines)
        for mod in FORBIDDEN.get(layer_of(rel), []):
            for n, line in enumerate(lines, 1):
                if re.search(r"\bcrate::%s\b" % mod, line):
                    problems.append(f"src/{rel}:{n}: {layer_of(rel)} imports crate::{mod}")
        for crate, places in ONLY_IN.items():
            if any(rel.startswith(p) for p in places):
                continue
            for n, line in enumerate(lines, 1):
                if re.search(r"\b%s::" % crate, line):
                    problems.append(f"src/{rel}:{n}: {crate} outside {', '.join(places)}")
        total = sum(1 for _ in open(path, encoding="utf-8"))
        if total > MAX_FILE_LINES:
            problems.append(f"src/{rel}: {total} lines (over {MAX_FILE_LINES})")
        for name, start, length in function_lengths(lines):
            if length > MAX_FN_LINES and not rel.endswith("tests.rs"):
                problems.append(f"src/{rel}:{start}: fn {name} is {length} lines (over {MAX_FN_LINES})")
        del text
    for path in sorted(rust_files(os.path.join(ROOT, "tests"))):
        total = sum(1 for _ in open(path, encoding="utf-8"))
        if total > MAX_FILE_LINES:
            rel = os.path.relpath(path, ROOT)
            problems.append(f"{rel}: {total} lines (over {MAX_FILE_LINES})")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} breach(es) of docs/architecture.md", file=sys.stderr)
        return 1
    print("layers, crate placement and sizes as docs/architecture.md says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
