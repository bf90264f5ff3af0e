"""Reads docker-compose.yml as `docker compose` would on a fresh machine (values
from .env.example, `${VAR:-default}` interpolation) for the CI checks.

  compose_env.py config            interpolated compose file, as JSON
  compose_env.py env SERVICE       the service's environment, KEY=VALUE lines
  compose_env.py command SERVICE   the service's command, one word a line
  compose_env.py images            every image: reference, one a line
  compose_env.py content CONFIG    the inline content of a top-level config
"""
import json
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent


def dotenv(path):
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


VARS = dotenv(ROOT / ".env.example")
PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(text):
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        value = VARS.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?"):
            if not value if op == ":?" else value is None:
                sys.exit(f"compose: required variable {name}: {arg}")
            return value
        return value or ""

    return PATTERN.sub(sub, text)


def walk(node):
    if isinstance(node, dict):
        return {k: walk(v) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v) for v in node]
    if isinstance(node, str):
        return interpolate(node)
    return node


def load():
    yaml = YAML(typ="safe", pure=True)
    return walk(yaml.load((ROOT / "docker-compose.yml").read_text()))


def main(argv):
    doc = load()
    what = argv[1] if len(argv) > 1 else "config"
    if what == "config":
        print(json.dumps(doc, indent=2))
    elif what == "env":
        env = doc["services"][argv[2]].get("environment", {})
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        for key, value in env.items():
            print(f"{key}={'' if value is None else value}")
    elif what == "command":
        for word in doc["services"][argv[2]].get("command", []):
            print(word)
    elif what == "images":
        for name, svc in doc["services"].items():
            print(f"{name}|{svc.get('image', '')}|{'build' if 'build' in svc else ''}")
    elif what == "content":
        sys.stdout.write(doc["configs"][argv[2]]["content"])
    else:
        sys.exit(f"unknown command {what}")


if __name__ == "__main__":
    main(sys.argv)
