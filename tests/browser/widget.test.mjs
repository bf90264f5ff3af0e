// The real @bytescale/upload-widget in Chromium: a file chosen in the widget
// uploads through stowage's multipart protocol and is downloadable.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { startStowage, startPages, launchChromium, PNG, ARTIFACTS } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let st, pages, browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await build({
    entryPoints: [join(here, "widget-entry.mjs")],
    bundle: true,
    platform: "browser",
    format: "iife",
    outfile: join(here, "build/widget.bundle.js"),
    logLevel: "warning",
  });
  pages = await startPages({
    "/widget.html": (req, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end(
        `<!doctype html><html><head><title>widget</title><script src="/build/widget.bundle.js"></script></head><body></body></html>`,
      ),
  });
  st = await startStowage({ allowedOrigins: pages.origin });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await st?.stop();
  await pages?.close();
});

test("the upload widget uploads a chosen file", async () => {
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/widget.html`);
  await page.evaluate(({ key, url }) => {
    window.widgetResult = window.UploadWidget.open({
      apiKey: key,
      apiUrl: url,
      cdnUrl: url,
      multi: false,
      showFinishButton: false,
      path: { folderPath: "/widget" },
      editor: { images: { crop: false, preview: false } },
    }).then((files) => files.map((f) => ({ filePath: f.filePath, fileUrl: f.fileUrl, originalFileUrl: f.originalFile.fileUrl })));
  }, { key: st.public, url: st.url });
  const input = page.locator("input[type=file]").first();
  await input.waitFor({ state: "attached", timeout: 10000 });
  await page.screenshot({ path: join(ARTIFACTS, "widget-open.png") });
  await input.setInputFiles({ name: "widget.png", mimeType: "image/png", buffer: PNG });
  const files = await page.evaluate(() => window.widgetResult);
  await page.screenshot({ path: join(ARTIFACTS, "widget-done.png") });
  assert.equal(files.length, 1);
  const { filePath, fileUrl, originalFileUrl } = files[0];
  assert.match(filePath, /^\/widget\/\d{8}\.png$/);
  // The widget's own fileUrl names upcdn.io; the server's (originalFile) is ours.
  assert.match(fileUrl, /^https:\/\/upcdn\.io\//);
  assert.equal(originalFileUrl, `${st.url}/${st.account}/raw${filePath}`);
  const back = await fetch(`${st.url}/${st.account}/raw${filePath}`);
  assert.equal(back.status, 200);
  assert.deepEqual(Buffer.from(await back.arrayBuffer()), PNG);
  await page.close();
});
