// Dashboard uploads, bug 11 of issue #30 (failed before the fix): an upload
// that gives up says so (not "failed parts are retried"), keeps its bar where
// it stopped, and offers Retry, which resumes with the parts the server lacks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { openDashboard, signIn, shots } from "./dash-helpers.mjs";

const MiB = 1024 * 1024;
const SIZE = 17 * MiB; // three parts of 8 MiB: 8 + 8 + 1
let env, st, page, files;

before(async () => {
  env = await openDashboard();
  ({ st, page } = env);
  files = mkdtempSync(join(tmpdir(), "stowage-dash-up-"));
  const buf = Buffer.alloc(SIZE);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = (i >> 12) & 0xff;
  writeFileSync(join(files, "movie.bin"), buf);
});

after(async () => {
  await env?.close();
  if (files) rmSync(files, { recursive: true, force: true });
});

test("bug 11: a failed upload says it stopped, keeps its progress, and Retry resumes it", async () => {
  await signIn(page, st, st.secret, "#/files?path=/");
  await page.getByText("This folder is empty").waitFor();
  // The last part (index 2) cannot be sent: the network drops it.
  const lastPart = /\/uploads\/[^/]+\/parts\/2\/bytes/;
  await page.route(lastPart, (r) => r.abort("connectionreset"));
  const sent = [];
  page.on("request", (req) => {
    const m = req.url().match(/\/parts\/(\d+)\/bytes/);
    if (m && req.method() === "PUT") sent.push(Number(m[1]));
  });
  await page.getByLabel("Upload files").setInputFiles(join(files, "movie.bin"));
  const li = page.locator('.uploads li[data-path="/movie.bin"]');
  await page.locator('.uploads li.failed[data-path="/movie.bin"]').waitFor({ timeout: 30000 });
  const text = await li.locator(".u-meta").innerText();
  assert.doesNotMatch(text, /are retried/, text);
  assert.match(text, /stopped/i, text);
  // Parts 0 and 1 (16 of 17 MiB) are on the server: the bar stays there.
  const bar = page.getByRole("progressbar", { name: "Upload progress for movie.bin" });
  assert.equal(Number(await bar.getAttribute("value")), Math.floor((16 / 17) * 100));
  await shots(page, "14-upload-failed");
  // The network is back: Retry sends only the missing part.
  await page.unroute(lastPart);
  const before = sent.length;
  await page.getByRole("button", { name: "Retry upload of movie.bin" }).click();
  await page.locator('.uploads li[data-path="/movie.bin"][data-done="true"]').waitFor({ timeout: 30000 });
  assert.deepEqual(sent.slice(before), [2]);
  assert.equal(await bar.getAttribute("value"), "100");
  const head = await fetch(`${st.url}/${st.account}/raw/movie.bin`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(SIZE));
  await page.getByRole("button", { name: "Details of movie.bin" }).waitFor();
});
