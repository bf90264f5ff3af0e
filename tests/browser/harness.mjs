// Test harness: starts a real stowage (the debug binary cargo built) on
// 127.0.0.1 with a fresh data directory, a page server on another port, and
// (for browser tests) headless Chromium through playwright-core.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { generateKeyPairSync, createSign } from "node:crypto";
import { createInterface } from "node:readline";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.STOWAGE_BIN ?? join(here, "../../target/debug/stowage");

/** Starts stowage; resolves with {url, account, secret, public, stop()}. */
export async function startStowage({ allowedOrigins = "", env: extra = {} } = {}) {
  if (!existsSync(BIN)) throw new Error(`no stowage binary at ${BIN}: run cargo build first`);
  const dir = mkdtempSync(join(tmpdir(), "stowage-browser-"));
  // The embedded default (SQLite + files under dir/data), whatever CI exports.
  const env = { ...process.env, STOWAGE_LISTEN: "127.0.0.1:0", STOWAGE_ALLOWED_ORIGINS: allowedOrigins, RUST_LOG: "info", ...extra };
  for (const k of ["DATABASE_URL", "STOWAGE_STORAGE_URL", "STOWAGE_SECRET_KEY", "STOWAGE_CONFIG"]) delete env[k];
  const child = spawn(BIN, ["serve"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  const out = { account: null, secret: null, public: null, url: null };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("stowage did not start")), 20000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = line.match(/(account|secret key|public key):\s+(\S+)/);
      if (m) out[{ account: "account", "secret key": "secret", "public key": "public" }[m[1]]] = m[2];
    });
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (line.includes("stowage listening")) {
        out.url = "http://" + JSON.parse(line).fields.listen;
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => reject(new Error(`stowage exited with ${code}`)));
  });
  // The keys are printed before the listening line, but on another stream.
  for (let i = 0; i < 50 && !out.public; i++) await new Promise((r) => setTimeout(r, 20));
  return {
    ...out,
    dir,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A JSON API call with the secret key. */
export async function api(st, method, path, body) {
  const res = await fetch(`${st.url}/v2/accounts/${st.account}${path}`, {
    method,
    headers: { authorization: `Bearer ${st.secret}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** An RSA key pair; `jwt(claims)` signs RS256 with it. */
export function rsaSigner() {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" });
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return {
    pem,
    jwt(claims, kid) {
      const head = b64({ alg: "RS256", typ: "JWT", ...(kid ? { kid } : {}) });
      const body = b64(claims);
      const sig = createSign("RSA-SHA256").update(`${head}.${body}`).sign(privateKey).toString("base64url");
      return `${head}.${body}.${sig}`;
    },
  };
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".png": "image/png" };

/**
 * A page server on its own 127.0.0.1 port: `routes` maps a path to
 * (req, res) => void; anything else is served from this folder (pages,
 * node_modules bundles).
 */
export async function startPages(routes = {}) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (routes[path]) return routes[path](req, res);
    const file = join(here, path);
    if (!file.startsWith(here) || !existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, close: () => new Promise((r) => server.close(r)) };
}

/** Headless Debian Chromium with a fresh profile; never downloads a browser. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "stowage-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
      "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A small valid PNG (1×1, red). */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
  "base64",
);

export const ARTIFACTS = join(here, "artifacts");
