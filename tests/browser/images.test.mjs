// Image transformations (SPEC §6.1) against their real clients: the SDK's
// UrlBuilder URLs (image and preset) fetched in Node and shown in <img> tags
// in Chromium through a cookie session on a private folder, and the upload
// widget's crop (`/image/<name>.crop`) and previews (`?f=webp&f2=jpg`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { UrlBuilder } from "@bytescale/sdk";
import { startStowage, startPages, launchChromium, rsaSigner, api, ARTIFACTS } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let st, pages, browser, signer, kid, jpeg;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await build({
    entryPoints: [join(here, "widget-entry.mjs")],
    bundle: true, platform: "browser", format: "iife",
    outfile: join(here, "build/widget.bundle.js"), logLevel: "warning",
  });
  signer = rsaSigner();
  pages = await startPages({
    "/auth": (req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(signer.jwt({
      sub: "viewer", iat: now() - 5, exp: now() + 600, accountId: st.account,
      access: { pathPermissions: [{ match: { path: "/private", scope: "Children" }, permissions: { read: { file: { downloadFile: ["*"] } } } }] },
    }, kid)),
    "/blank.html": (req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>blank</title><body></body>"),
    "/widget.html": (req, res) => res.writeHead(200, { "content-type": "text/html" }).end(
      `<!doctype html><html><head><title>widget</title><script src="/build/widget.bundle.js"></script></head><body></body></html>`),
  });
  st = await startStowage({ allowedOrigins: pages.origin });
  kid = (await api(st, "POST", "/jwt_keys", { pem: signer.pem })).json.kid;
  browser = await launchChromium();
  // A real 320×200 JPEG, drawn and encoded by Chromium (left red, right blue).
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/blank.html`);
  const b64 = await page.evaluate(async () => {
    const c = document.createElement("canvas");
    c.width = 320; c.height = 200;
    const g = c.getContext("2d");
    g.fillStyle = "#f00"; g.fillRect(0, 0, 160, 200);
    g.fillStyle = "#00f"; g.fillRect(160, 0, 160, 200);
    const blob = await new Promise((r) => c.toBlob(r, "image/jpeg", 0.9));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
  });
  await page.close();
  jpeg = Buffer.from(b64, "base64");
  const up = await fetch(`${st.url}/v2/accounts/${st.account}/uploads/binary?filePath=/private/photo.jpg`, {
    method: "POST", headers: { authorization: `Bearer ${st.secret}`, "content-type": "image/jpeg" }, body: jpeg,
  });
  assert.equal(up.status, 200);
  assert.equal((await api(st, "PUT", "/folders", { folderPath: "/private", folderSettings: { publicPermissions: { set: true, value: [] } } })).status, 200);
  assert.equal((await api(st, "PUT", "/transformations/thumb", { params: "w=40&h=40&fit=crop&f=png" })).status, 200);
});

after(async () => {
  await browser?.close();
  await st?.stop();
  await pages?.close();
});

const imageUrl = () => UrlBuilder.url({ accountId: st.account, filePath: "/private/photo.jpg",
  options: { cdnUrl: st.url, transformation: "image", transformationParams: { w: 80, f: "webp" } } });
const presetUrl = () => UrlBuilder.url({ accountId: st.account, filePath: "/private/photo.jpg",
  options: { cdnUrl: st.url, transformation: "preset", transformationPreset: "thumb" } });

test("UrlBuilder image and preset URLs, fetched in Node", async () => {
  assert.equal(imageUrl(), `${st.url}/${st.account}/image/private/photo.jpg?w=80&f=webp`);
  assert.equal(presetUrl(), `${st.url}/${st.account}/thumb/private/photo.jpg`);
  assert.equal((await fetch(imageUrl())).status, 401, "private folder, no credential");
  const auth = { authorization: `Bearer ${st.secret}` };
  const img = await fetch(imageUrl(), { headers: auth });
  assert.equal(img.status, 200);
  assert.equal(img.headers.get("content-type"), "image/webp");
  const webp = Buffer.from(await img.arrayBuffer());
  assert.equal(webp.subarray(8, 12).toString(), "WEBP");
  const thumb = await fetch(presetUrl(), { headers: auth });
  assert.equal(thumb.headers.get("content-type"), "image/png");
  const png = Buffer.from(await thumb.arrayBuffer());
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [40, 40], "PNG IHDR size");
  const again = await fetch(imageUrl(), { headers: { ...auth, "if-none-match": img.headers.get("etag") } });
  assert.equal(again.status, 304);
});

/** [naturalWidth, naturalHeight] of an <img> with this src, once it loads or fails. */
const imgSize = (page, src) =>
  page.evaluate(async (src) => {
    const img = document.createElement("img");
    document.body.appendChild(img);
    await new Promise((r) => { img.onload = img.onerror = r; img.src = src; });
    return [img.naturalWidth, img.naturalHeight];
  }, src);

test("UrlBuilder URLs in <img> tags with a cookie session on a private folder", async () => {
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/blank.html`);
  assert.deepEqual(await imgSize(page, imageUrl()), [0, 0], "no session yet");
  const sdk = "/node_modules/@bytescale/sdk/dist/browser/esm/main.mjs";
  const ready = await page.evaluate(async ({ sdk, account, authUrl, cdn }) => {
    const { AuthManager } = await import(sdk);
    await AuthManager.beginAuthSession({ accountId: account, authUrl, authHeaders: async () => ({}), options: { cdnUrl: cdn } });
    for (let i = 0; i < 100 && !AuthManager.isAuthSessionReady(); i++) await new Promise((r) => setTimeout(r, 50));
    return AuthManager.isAuthSessionReady();
  }, { sdk, account: st.account, authUrl: `${pages.origin}/auth`, cdn: st.url });
  assert.equal(ready, true);
  assert.deepEqual(await imgSize(page, imageUrl()), [80, 50]);
  assert.deepEqual(await imgSize(page, presetUrl()), [40, 40]);
  await page.evaluate(({ a, b }) => {
    for (const src of [a, b]) {
      const img = document.createElement("img");
      img.src = src;
      img.style.margin = "8px";
      document.body.appendChild(img);
    }
  }, { a: imageUrl(), b: presetUrl() });
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  await page.screenshot({ path: join(ARTIFACTS, "images-cookie-session.png") });
  await page.close();
});

/** A 24-bit BMP, w×h, left half green, right half white (no library needed). */
function bmp(w, h) {
  const row = Math.ceil((w * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + row * h);
  buf.write("BM", 0);
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(w, 18);
  buf.writeInt32LE(h, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(row * h, 34);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = 54 + y * row + x * 3;
      const [b, g, r] = x < w / 2 ? [0, 200, 0] : [255, 255, 255];
      buf[o] = b; buf[o + 1] = g; buf[o + 2] = r;
    }
  return buf;
}

/** Opens the widget with cropping on (square), chooses `file`, presses its crop button. */
async function cropWithWidget(file, shot) {
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/widget.html`);
  const previews = [];
  page.on("request", (r) => { if (r.url().includes("f2=")) previews.push(r.url()); });
  await page.evaluate(({ key, url }) => {
    window.widgetResult = window.UploadWidget.open({
      apiKey: key, apiUrl: url, cdnUrl: url, multi: false, showFinishButton: false,
      path: { folderPath: "/widget" },
      editor: { images: { crop: true, cropRatio: 1, preview: true } },
    }).then((files) => files.map((f) => ({ filePath: f.filePath, original: f.originalFile.filePath })));
  }, { key: st.public, url: st.url });
  const input = page.locator("input[type=file]").first();
  await input.waitFor({ state: "attached", timeout: 10000 });
  await input.setInputFiles(file);
  const crop = page.getByRole("button", { name: /crop|continue|done/i }).first();
  await crop.waitFor({ timeout: 15000 });
  // The cropper shows the image (for a BMP, the server's preview) before we press.
  await page.waitForFunction(() => [...document.images].some((i) => i.complete && i.naturalWidth > 0), null, { timeout: 15000 });
  const shown = await page.evaluate(() => [...document.images].filter((i) => i.naturalWidth > 0).map((i) => ({ src: i.src, w: i.naturalWidth, h: i.naturalHeight })));
  await page.screenshot({ path: join(ARTIFACTS, `${shot}-cropper.png`) });
  await crop.click();
  const files = await page.evaluate(() => window.widgetResult);
  assert.equal(files.length, 1);
  assert.match(files[0].filePath, /\.crop$/);
  return { page, files, previews, shown };
}

async function showResult(page, src, shot) {
  await page.evaluate((src) => {
    const img = document.createElement("img");
    img.src = src;
    img.style.cssText = "position:fixed;top:8px;left:8px;z-index:999999;border:2px solid #0a0";
    document.body.appendChild(img);
  }, src);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  await page.screenshot({ path: join(ARTIFACTS, `${shot}-result.png`) });
}

test("the upload widget crops a JPEG; /image/<name>.crop shows exactly the crop", async () => {
  const { page, files } = await cropWithWidget({ name: "photo.jpg", mimeType: "image/jpeg", buffer: jpeg }, "widget-jpeg");
  const cropped = `${st.url}/${st.account}/image${files[0].filePath}`;
  // cropRatio 1 on a 320×200 image: a 200×200 square.
  assert.deepEqual(await imgSize(page, cropped), [200, 200]);
  assert.deepEqual(await imgSize(page, `${cropped}?w=50`), [50, 50]);
  await showResult(page, cropped, "widget-jpeg");
  await page.close();
});

test("the widget's server previews (?f=webp&f2=jpg) render, and a BMP crops", async () => {
  const { page, files, previews, shown } = await cropWithWidget({ name: "pic.bmp", mimeType: "image/bmp", buffer: bmp(120, 80) }, "widget-bmp");
  assert.ok(previews.length > 0, "the widget asked the server for a preview");
  for (const p of previews) assert.match(p, /\/image\/widget\/.*\.bmp\?f=webp&f2=jpg$/);
  const preview = shown.find((i) => i.src.includes("f2="));
  assert.deepEqual(preview && [preview.w, preview.h], [120, 80], "the preview rendered in the cropper");
  const res = await fetch(previews[0]);
  assert.equal(res.headers.get("content-type"), "image/webp");
  const cropped = `${st.url}/${st.account}/image${files[0].filePath}`;
  assert.deepEqual(await imgSize(page, cropped), [80, 80]);
  await showResult(page, cropped, "widget-bmp");
  await page.close();
});
