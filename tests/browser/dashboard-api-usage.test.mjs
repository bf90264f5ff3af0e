// Dashboard: the API page (SPEC §13, issue #29), activity charts of
// usage/daily (issue #30) and the upload hook on the Account page (SPEC §11,
// issue #26). A tiny HTTP server on 127.0.0.1 plays the upload hook; stowage
// may reach it through STOWAGE_FETCH_ALLOWED_NETWORKS. Screenshots go to
// docs/dashboard/ (40–46).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { openDashboard, signIn, put, until } from "./dash-helpers.mjs";
import { api } from "./harness.mjs";

const DOCS = join(dirname(fileURLToPath(import.meta.url)), "../../docs/dashboard");
let env, st, page, hookServer, origin;
const calls = []; // upload hook calls received: {path, body}

before(async () => {
  hookServer = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      calls.push({ path: req.url, body: JSON.parse(body || "null"), headers: req.headers });
      if (req.url === "/allow") res.writeHead(200, { "content-type": "application/json" }).end("{}");
      else res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ message: "not from this dashboard" }));
    });
  });
  await new Promise((r) => hookServer.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${hookServer.address().port}`;
  env = await openDashboard({ env: { STOWAGE_FETCH_ALLOWED_NETWORKS: "127.0.0.0/8" } });
  ({ st, page } = env);
  mkdirSync(DOCS, { recursive: true });
});

after(async () => {
  await env?.close();
  await new Promise((r) => hookServer?.close(r));
});

/** Screenshots at 1280×800 and 390×844 into docs/dashboard/, `show` scrolled into view. */
async function docShot(name, show = null) {
  for (const [label, width, height] of [["desktop", 1280, 800], ["mobile", 390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(400);
    if (show) await show.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(DOCS, `${name}-${label}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

const sh = (cmd, cwd, extra) => new Promise((resolve) => {
  execFile("sh", ["-c", cmd], { cwd, env: { ...process.env, ...extra } }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
});

test("Account: a readable empty state before any activity", async () => {
  // A fresh server: no upload or download yet (the first test to run).
  const items = (await api(st, "GET", "/usage/daily?days=30")).json.items;
  assert.equal(items.length, 30);
  assert.ok(items.every((d) => d.uploads === 0 && d.bytesIn === 0 && d.bytesOut === 0));
  await signIn(page, st, st.secret, "#/account");
  const empty = page.locator("section.activity .chart-empty");
  await empty.waitFor();
  assert.equal(await empty.getAttribute("data-days"), "30");
  assert.match(await empty.innerText(), /No uploads or downloads in the last 30 days\./);
  assert.equal(await page.locator("section.activity svg").count(), 0);
});

test("API page: every operation of /openapi.json by tag, with a curl that works as shown", async () => {
  const doc = await (await fetch(`${st.url}/openapi.json`)).json();
  const expected = Object.values(doc.paths).reduce((n, item) => n + ["get", "put", "post", "patch", "delete", "head", "options"].filter((m) => item[m]).length, 0);
  const binary = Object.keys(doc.paths).find((p) => p.endsWith("/uploads/binary") && doc.paths[p].post);
  assert.ok(binary, "the document has POST …/uploads/binary");

  await signIn(page, st, st.secret, "#/api");
  await page.getByRole("heading", { name: "API", level: 1 }).waitFor();
  const op = page.locator(`details.op[data-op="POST ${binary}"]`);
  await op.waitFor();
  assert.equal(await page.locator("details.op").count(), expected);
  assert.equal(await page.locator("section.api-tag[data-tag=uploads]").locator(`details[data-op="POST ${binary}"]`).count(), 1);

  await docShot("40-api-page");
  await op.locator("summary").click();
  const curl = await op.locator("pre.curl-cmd").innerText();
  assert.ok(curl.includes(`${st.url}/v2/accounts/${st.account}/uploads/binary`), curl);
  assert.ok(curl.includes("$STOWAGE_KEY"), curl);
  assert.ok(!curl.includes(st.secret), "the key itself is never in the page");
  // Parameters and the response's fields ($ref FileDetails/UploadResponse resolved).
  assert.ok(await op.locator("table.params code", { hasText: "filePath" }).count() >= 1);
  assert.ok(await op.locator('li[data-status="200"] ul.schema code', { hasText: "fileUrl" }).count() >= 1);

  // The curl, run as shown by a shell with STOWAGE_KEY set, uploads example.jpg.
  const dir = mkdtempSync(join(tmpdir(), "curl-"));
  writeFileSync(join(dir, "example.jpg"), "bytes from curl");
  const run = await sh(`${curl} -sS -w '\\n%{http_code}'`, dir, { STOWAGE_KEY: st.secret });
  rmSync(dir, { recursive: true, force: true });
  assert.match(run.stdout.trim().split("\n").pop(), /^200$/, run.stdout + run.stderr);
  const raw = await fetch(`${st.url}/${st.account}/raw/uploads/example.jpg`);
  assert.equal(await raw.text(), "bytes from curl");
  // A GET's curl too: the details of that file.
  const details = page.locator('details.op[data-op="GET /v2/accounts/{account}/files/details"]');
  await details.locator("summary").click();
  const getCurl = await details.locator("pre.curl-cmd").innerText();
  const got = await sh(`${getCurl} -sS`, tmpdir(), { STOWAGE_KEY: st.secret });
  assert.equal(JSON.parse(got.stdout).size, "bytes from curl".length, got.stdout + got.stderr);
  await details.locator("summary").click();
  await docShot("41-api-operation", op);
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `no sideways scroll at 390 px with an operation open (${wide})`);
  await page.setViewportSize({ width: 1280, height: 800 });

  // The filter: words match method, path, summary and tag.
  await page.getByLabel("Filter operations").fill("upload_hook put");
  await until(page, () => document.querySelectorAll("details.op:not([hidden])").length === 1, null, "one match");
  assert.equal(await page.locator("details.op:not([hidden])").getAttribute("data-op"), "PUT /v2/accounts/{account}/upload_hook");
  assert.match(await page.getByRole("status").filter({ hasText: "operations match" }).innerText(), new RegExp(`^1 of ${expected} operations match\\.$`));
  assert.equal(await page.locator("section.api-tag:not([hidden])").count(), 1);
  assert.equal(new URL(page.url()).hash, "#/api?q=upload_hook%20put", "the filter is in the address");
  await page.reload();
  await until(page, () => document.querySelectorAll("details.op:not([hidden])").length === 1, null, "the filter kept after a reload");
  assert.equal(await page.getByLabel("Filter operations").inputValue(), "upload_hook put");
  await page.getByLabel("Filter operations").fill("no such operation anywhere");
  await until(page, () => document.querySelectorAll("details.op:not([hidden])").length === 0, null, "no match");
  await page.getByLabel("Filter operations").fill("");
  await until(page, (n) => document.querySelectorAll("details.op:not([hidden])").length === n, expected, "all again");
});

test("Account: activity charts, one bar per day of usage/daily", async () => {
  // The curl upload above was today's only activity so far.
  await signIn(page, st, st.secret, "#/account");
  const card = page.locator("section.card.activity");
  await card.waitFor();
  const bars = card.locator("svg[data-metric=uploads] rect.bar");
  await bars.first().waitFor({ state: "attached" });
  const daily = (await api(st, "GET", "/usage/daily?days=30")).json.items;
  assert.equal(daily.length, 30);
  assert.equal(await bars.count(), daily.length);
  for (const metric of ["bytesIn", "bytesOut"]) assert.equal(await card.locator(`svg[data-metric=${metric}] rect.bar`).count(), daily.length);

  // More uploads and a download today: after a reload, today's bar says so.
  await put(st, "/a.txt", "aaaa");
  await put(st, "/b.txt", "bbbbbbbb");
  assert.equal(await (await fetch(`${st.url}/${st.account}/raw/b.txt`)).text(), "bbbbbbbb");
  await page.reload();
  await bars.first().waitFor({ state: "attached" });
  const now = (await api(st, "GET", "/usage/daily?days=30")).json.items;
  const today = now[now.length - 1];
  assert.equal(today.uploads, 3);
  assert.match(await card.locator("svg[data-metric=uploads]").getAttribute("aria-label"), new RegExp(`^Uploads per day, 30 days: 3 in all, most on ${today.date} \\(3\\)$`));
  const last = card.locator("svg[data-metric=uploads] g.day").last();
  assert.equal(await last.getAttribute("data-date"), today.date);
  assert.equal(await last.getAttribute("data-value"), "3");
  assert.equal(await last.locator("title").textContent(), `${today.date}: 3 uploads`);
  // Its height is 3 / the axis' top (a round number ≥ 3) of the plot's height.
  const top = Number(await card.locator("svg[data-metric=uploads]").getAttribute("data-top"));
  assert.equal(top, 4, "3 uploads: the axis goes to 4");
  const height = Number(await last.locator("rect.bar").getAttribute("height"));
  const full = Number(await last.locator("rect.hit").getAttribute("height"));
  assert.ok(Math.abs(height - (full * 3) / top) < 0.01, `bar ${height} of ${full}, top ${top}`);
  const first = card.locator("svg[data-metric=uploads] g.day").first();
  assert.equal(Number(await first.locator("rect.bar").getAttribute("height")), 0);
  assert.equal(await card.locator("svg[data-metric=bytesOut] g.day").last().getAttribute("data-value"), String(today.bytesOut));
  assert.ok(today.bytesOut >= 8);
  await docShot("42-account-activity", card);

  // At 390 px the charts fit the screen, each bar still there.
  await page.setViewportSize({ width: 390, height: 844 });
  await until(page, () => [...document.querySelectorAll("svg.chart")].every((s) => Number(s.getAttribute("width")) <= 360), null, "narrow charts");
  assert.equal(await bars.count(), daily.length);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 390, `no sideways scroll at 390 px (${overflow})`);
  await page.setViewportSize({ width: 1280, height: 800 });

  // Seven days: seven bars.
  await card.getByLabel("Period").selectOption("7");
  await until(page, () => document.querySelectorAll("section.activity svg[data-metric=uploads] rect.bar").length === 7, null, "7 bars");
});

test("Account: set the upload hook (secret once), test it, see errors cleared, remove it", async () => {
  await signIn(page, st, st.secret, "#/account");
  const card = page.locator("section.card.hook");
  await card.getByText("No upload hook").waitFor();

  // A URL the address rules refuse: the §8 error, nothing set.
  await card.getByLabel("Hook URL").fill("http://10.1.2.3/authorize");
  await card.getByRole("button", { name: "Save hook" }).click();
  const alert = card.getByRole("alert");
  await alert.waitFor();
  const refused = await api(st, "PUT", "/upload_hook", { url: "http://10.1.2.3/authorize" });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, "url_not_allowed");
  assert.ok((await alert.innerText()).includes(refused.json.error.message));
  assert.equal((await api(st, "GET", "/upload_hook")).status, 404);
  await docShot("43-upload-hook-error", card);

  // A good one: the secret is shown once; the error is gone; GET has the URL.
  await card.getByLabel("Hook URL").fill(`${origin}/allow`);
  await card.getByRole("button", { name: "Save hook" }).click();
  const secret = page.getByLabel("Signing secret");
  await secret.waitFor();
  assert.match(await secret.inputValue(), /^whsec_/);
  await docShot("44-upload-hook-secret");
  await page.getByRole("button", { name: "Done" }).click();
  await card.locator("code.hook-url").waitFor();
  assert.equal(await card.getByRole("alert").count(), 0);
  const got = await api(st, "GET", "/upload_hook");
  assert.equal(got.status, 200);
  assert.equal(got.json.url, `${origin}/allow`);
  assert.equal(await card.locator("code.hook-url").innerText(), `${origin}/allow`);

  // Test: the hook gets a signed upload.authorize; the answer is shown.
  const before = calls.length;
  await card.getByRole("button", { name: "Test hook" }).click();
  const outcome = card.locator("[data-outcome]");
  await outcome.waitFor();
  assert.equal(await outcome.getAttribute("data-outcome"), "allowed");
  assert.match(await outcome.innerText(), /allowed the test upload/);
  const call = calls[before];
  assert.equal(call.path, "/allow");
  assert.equal(call.body.type, "upload.authorize");
  assert.equal(call.body.data.filePath, "/upload-hook-test.txt");
  assert.deepEqual(call.body.data.metadata, { stowageTest: true });
  assert.match(call.headers["webhook-signature"], /^v1,/);
  assert.equal((await fetch(`${st.url}/${st.account}/raw/upload-hook-test.txt`)).status, 404, "a test uploads nothing");
  await docShot("45-upload-hook", card);

  // A hook that refuses: its message is shown.
  await card.getByLabel("Hook URL").fill(`${origin}/deny`);
  await card.getByRole("button", { name: "Save hook" }).click();
  await page.getByRole("button", { name: "Done" }).click();
  await until(page, (u) => document.querySelector("code.hook-url")?.textContent === u, `${origin}/deny`, "the new URL");
  await card.getByRole("button", { name: "Test hook" }).click();
  await until(page, () => document.querySelector(".hook [data-outcome]")?.dataset.outcome === "rejected", null, "rejected");
  assert.match(await outcome.innerText(), /refused the test upload \(HTTP 403\): not from this dashboard/);
  await docShot("46-upload-hook-rejected", card);

  // Remove (confirmed): GET answers 404, the card says there is none.
  await card.getByRole("button", { name: "Remove hook" }).click();
  await page.getByRole("dialog", { name: "Remove the upload hook?" }).getByRole("button", { name: "Remove hook" }).click();
  await card.getByText("No upload hook").waitFor();
  assert.equal((await api(st, "GET", "/upload_hook")).status, 404);
  assert.equal(await card.locator("[data-outcome]").count(), 0);
});
