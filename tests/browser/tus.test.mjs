// tus (SPEC §5.6) with its real clients: tus-js-client in Node (64 MiB in
// 5 MiB chunks, the bytes read back exactly) and Uppy's @uppy/tus in headless
// Chromium from a plain page on another origin (CORS: tus headers in, Location
// and Upload-* out).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as tus from "tus-js-client";
import { startStowage, startPages, launchChromium, ARTIFACTS } from "./harness.mjs";

let st, pages, browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  pages = await startPages({
    "/tus.html": (req, res) => res.writeHead(200, { "content-type": "text/html" }).end(
      `<!doctype html><title>tus upload</title>
       <main><h1>Upload with Uppy (tus)</h1><p id="status" role="status">Waiting…</p></main>`,
    ),
  });
  st = await startStowage();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await st?.stop();
  await pages?.close();
});

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

test("tus-js-client uploads 64 MiB in 5 MiB chunks and the bytes read back exactly", async () => {
  const size = 64 * 1024 * 1024;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  let patches = 0;
  const { upload, response } = await new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint: `${st.url}/v2/accounts/${st.account}/tus`,
      chunkSize: 5 * 1024 * 1024,
      headers: { authorization: `Bearer ${st.secret}` },
      metadata: { filename: "big.bin", filetype: "application/octet-stream", filePath: "/tus-js/big.bin" },
      retryDelays: [0, 500],
      onAfterResponse: (req) => { if (req.getMethod() === "PATCH") patches += 1; },
      onError: reject,
      onSuccess: (payload) => resolve({ upload, response: payload.lastResponse }),
    });
    upload.start();
  });
  assert.equal(patches, 13, "64 MiB in 5 MiB chunks is 13 PATCHes");
  assert.match(upload.url, new RegExp(`^${st.url}/v2/accounts/${st.account}/tus/[0-9a-f]{32}$`));
  assert.equal(response.getHeader("Upload-File-Path"), "/tus-js/big.bin");
  const url = response.getHeader("Upload-File-Url");
  assert.equal(url, `${st.url}/${st.account}/raw/tus-js/big.bin`);
  const got = Buffer.from(await (await fetch(url)).arrayBuffer());
  assert.equal(got.length, size);
  assert.equal(sha256(got), sha256(data));
  const details = await (await fetch(`${st.url}/v2/accounts/${st.account}/files/details?filePath=/tus-js/big.bin`, {
    headers: { authorization: `Bearer ${st.secret}` },
  })).json();
  assert.equal(details.etag, sha256(data));
  assert.equal(details.originalFileName, "big.bin");
});

test("Uppy with @uppy/tus uploads from a plain page on another origin", async () => {
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/tus.html`);
  const result = await page.evaluate(async ({ endpoint, key }) => {
    const { Uppy, Tus } = await import("/node_modules/uppy/dist/uppy.min.mjs");
    const uppy = new Uppy().use(Tus, { endpoint, chunkSize: 256 * 1024, headers: { authorization: `Bearer ${key}` } });
    const bytes = new Uint8Array(700 * 1024).map((_, i) => (i * 31) & 0xff);
    uppy.addFile({ name: "uppy-tus.bin", type: "application/octet-stream", data: new Blob([bytes]), meta: { folderPath: "/uppy-tus" } });
    const r = await uppy.upload();
    const file = r.successful[0];
    document.getElementById("status").textContent = file
      ? `Uploaded ${file.name} (${file.size} bytes) to ${file.uploadURL}`
      : `Failed: ${r.failed[0]?.error}`;
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return {
      ok: r.successful.length, failed: r.failed.length, uploadURL: file?.uploadURL,
      sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    };
  }, { endpoint: `${st.url}/v2/accounts/${st.account}/tus`, key: st.public });
  await page.screenshot({ path: join(ARTIFACTS, "tus-uppy.png") });
  assert.equal(result.failed, 0);
  assert.equal(result.ok, 1);
  // HEAD on the upload (as its creator) names the stored file.
  const head = await fetch(result.uploadURL, {
    method: "HEAD", headers: { authorization: `Bearer ${st.public}`, "tus-resumable": "1.0.0" },
  });
  assert.equal(head.status, 200);
  const path = head.headers.get("upload-file-path");
  assert.match(path, /^\/uppy-tus\/\d{8}\.bin$/);
  const got = Buffer.from(await (await fetch(head.headers.get("upload-file-url"))).arrayBuffer());
  assert.equal(got.length, 700 * 1024);
  assert.equal(sha256(got), result.sha);
  await page.close();
});
