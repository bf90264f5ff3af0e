// Helpers for the dashboard's browser tests (dashboard*.test.mjs): a stowage
// plus Chromium, signing in with any key, API shortcuts and screenshots.
//
// DASHBOARD_ASSETS=<dir> serves the scripts and app.css from <dir> (e.g.
// ../../src/http/dashboard/assets) instead of the copies embedded in the
// binary, so a front-end change can be tried without a cargo build. The
// final run must be without it, against a freshly built binary.
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startStowage, launchChromium, api, ARTIFACTS } from "./harness.mjs";

export const SHOTS = join(ARTIFACTS, "dashboard");
const SIZES = [["desktop", 1280, 800], ["mobile", 390, 844]];

/** A stowage, Chromium and one page at 1280×800. */
export async function openDashboard(opts = {}) {
  mkdirSync(SHOTS, { recursive: true });
  const st = await startStowage(opts);
  const browser = await launchChromium();
  const dir = process.env.DASHBOARD_ASSETS;
  if (dir) {
    await browser.context.route(/\/dashboard\/assets\/[0-9a-f]+\/([\w.-]+\.(js|css))$/, (route) => {
      const name = new URL(route.request().url()).pathname.split("/").pop();
      const type = name.endsWith(".js") ? "text/javascript" : "text/css";
      route.fulfill({ status: 200, contentType: type, body: readFileSync(join(dir, name)) });
    });
    // The shell links the scripts assets.rs lists now (a new file too).
    const rs = readFileSync(join(dir, "../assets.rs"), "utf8");
    const tags = [...rs.matchAll(/asset\(\s*"([\w-]+\.(js|css))"/g)].map(([, name, ext]) => (ext === "js"
      ? `<script src="/dashboard/assets/000000000000/${name}" defer></script>`
      : `<link rel="stylesheet" href="/dashboard/assets/000000000000/${name}">`));
    await browser.context.route(/\/dashboard$/, async (route) => {
      const res = await route.fetch();
      const html = (await res.text()).replace(/<script src="[^"]+" defer><\/script>\n?|<link rel="stylesheet"[^>]+>\n?/g, "").replace("</head>", tags.join("\n") + "\n</head>");
      route.fulfill({ response: res, body: html });
    });
  }
  const page = await browser.context.newPage();
  page.setDefaultTimeout(10000);
  await page.setViewportSize({ width: 1280, height: 800 });
  return {
    st, browser, page,
    async close() {
      await browser.close();
      await st.stop();
    },
  };
}

/** Signs in with `key` (a fresh session), then opens `hash` (e.g. `#/keys`). */
export async function signIn(page, st, key = st.secret, hash = "") {
  await signInFrom(page, st, key, "");
  if (hash) await page.evaluate((h) => { location.hash = h; }, hash);
}

/** Signs in with `key` on the sign-in page shown at `/dashboard{hash}`. */
export async function signInFrom(page, st, key, hash) {
  await page.context().clearCookies();
  await page.goto("about:blank");
  await page.goto(`${st.url}/dashboard${hash}`);
  await page.getByLabel("Secret key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Dashboard sections" }).waitFor();
}

/** Uploads `body` to `path` with the secret key. */
export async function put(st, path, body = "x", type = "text/plain") {
  const res = await fetch(`${st.url}/v2/accounts/${st.account}/uploads/binary?filePath=${encodeURIComponent(path)}`, {
    method: "POST", headers: { authorization: `Bearer ${st.secret}`, "content-type": type }, body,
  });
  if (res.status !== 200) throw new Error(`upload ${path}: ${res.status} ${await res.text()}`);
}

/** A new secret key with these rules; returns its plaintext. */
export async function keyWith(st, rules) {
  const r = await api(st, "POST", "/api_keys", { type: "secret", name: "test", rules });
  if (r.status !== 201) throw new Error(`key: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.key;
}

/** A GET on the API with `key`; the status. */
export async function statusWith(st, key, path) {
  const res = await fetch(`${st.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Screenshots at 1280×800 and 390×844 into artifacts/dashboard/. */
export async function shots(page, name) {
  for (const [label, width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Waits for `fn` (in the page) to return truthy; throws with `what` after ~5 s. */
export async function until(page, fn, arg, what = "condition") {
  try {
    await page.waitForFunction(fn, arg, { timeout: 5000 });
  } catch {
    throw new Error(`timed out waiting for ${what}`);
  }
}
