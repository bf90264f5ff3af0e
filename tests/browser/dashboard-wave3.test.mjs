// Dashboard wave 3: upload from a URL (SPEC §5.7), usage against quotas
// (§12) and the Webhooks page (§11). A tiny HTTP server on 127.0.0.1 serves
// the file to fetch and receives the webhook deliveries; stowage may reach it
// through STOWAGE_FETCH_ALLOWED_NETWORKS. Screenshots go to docs/dashboard/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { openDashboard, signIn, until } from "./dash-helpers.mjs";
import { api } from "./harness.mjs";

const DOCS = join(dirname(fileURLToPath(import.meta.url)), "../../docs/dashboard");
const CAT = "meow from the origin server\n";
let env, st, page, src, origin;
const hooks = []; // webhook deliveries received: {type, headers}

before(async () => {
  src = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/cat.txt") {
        res.writeHead(200, { "content-type": "text/plain" }).end(CAT);
      } else if (req.method === "POST" && req.url === "/hook") {
        hooks.push({ type: JSON.parse(body).type, headers: req.headers });
        res.writeHead(200).end("ok");
      } else res.writeHead(404).end("no");
    });
  });
  await new Promise((r) => src.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${src.address().port}`;
  env = await openDashboard({ env: { STOWAGE_FETCH_ALLOWED_NETWORKS: "127.0.0.0/8" } });
  ({ st, page } = env);
  mkdirSync(DOCS, { recursive: true });
});

after(async () => {
  await env?.close();
  await new Promise((r) => src?.close(r));
});

/** Screenshots at 1280×800 (and 390×844 when `mobile`) into docs/dashboard/, `show` scrolled into view. */
async function docShot(name, mobile = false, show = null) {
  const sizes = [["desktop", 1280, 800], ...(mobile ? [["mobile", 390, 844]] : [])];
  for (const [label, width, height] of sizes) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(150);
    if (show) await show.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(DOCS, `${name}-${label}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

test("From URL: the server fetches the file, the upload list shows it, the listing has it", async () => {
  await signIn(page, st, st.secret, "#/files?path=/");
  await page.getByText("This folder is empty").waitFor();
  await page.getByRole("button", { name: "From URL" }).click();
  await page.getByLabel("File URL").fill(`${origin}/cat.txt`);
  await docShot("20-from-url-dialog");
  await page.getByRole("button", { name: "Upload from URL" }).click();
  await page.locator('.uploads li[data-path="/cat.txt"][data-done="true"]').waitFor();
  assert.equal(await page.getByRole("progressbar", { name: `Upload progress for ${origin}/cat.txt` }).getAttribute("value"), "100");
  // The listing was refreshed: the new file is a row.
  await page.getByRole("button", { name: "Details of cat.txt" }).waitFor();
  const raw = await fetch(`${st.url}/${st.account}/raw/cat.txt`);
  assert.equal(raw.status, 200);
  assert.equal(await raw.text(), CAT);

  // With a path, and then a URL that fails: the server's error message is shown.
  await page.getByRole("button", { name: "From URL" }).click();
  await page.getByLabel("File URL").fill(`${origin}/missing.txt`);
  await page.getByLabel("Save as (optional)").fill("/docs/missing.txt");
  await page.getByRole("button", { name: "Upload from URL" }).click();
  const failed = page.locator('.uploads li.failed[data-path="/docs/missing.txt"]');
  await failed.waitFor();
  const direct = await api(st, "POST", "/uploads/url", { url: `${origin}/missing.txt`, path: "/docs/missing.txt" });
  assert.equal(direct.status, 502);
  const shown = await failed.locator(".u-meta").innerText();
  assert.ok(shown.includes(direct.json.error.message), `${shown} / ${direct.json.error.message}`);
  await docShot("21-from-url-uploads", true);
});

test("Account: usage against quotas, with 'no limit' where there is none", async () => {
  const put = await api(st, "PUT", "/limits", { maxFiles: 4 });
  assert.equal(put.status, 200, JSON.stringify(put.json));
  const usage = await api(st, "GET", "/usage");
  assert.equal(usage.json.files, 1);
  await signIn(page, st, st.secret, "#/account");
  const files = page.getByRole("meter", { name: "Files used" });
  await files.waitFor();
  assert.equal(await files.getAttribute("aria-valuenow"), "1");
  assert.equal(await files.getAttribute("aria-valuemax"), "4");
  assert.match(await files.getAttribute("aria-valuetext"), /^1 of 4 \(25%\)$/);
  const fill = await page.locator(".quota .q-fill").first().evaluate((el) => el.style.width);
  assert.equal(fill, "25%");
  const bytes = page.getByRole("meter", { name: "Storage used" });
  assert.equal(await bytes.getAttribute("aria-valuenow"), String(usage.json.bytes));
  assert.match(await bytes.getAttribute("aria-valuetext"), /no limit$/);
  await docShot("22-account-usage", true, page.locator(".card.usage"));
});

test("Webhooks: create (secret once), send a test, see its delivery, delete", async () => {
  await signIn(page, st, st.secret, "#/webhooks");
  await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
  await page.getByLabel("Endpoint URL").fill(`${origin}/hook`);
  await page.getByLabel("Description").fill("backend");
  await page.getByRole("checkbox", { name: "file.deleted" }).check();
  await page.getByRole("button", { name: "Add webhook" }).click();
  const secret = page.getByLabel("Signing secret");
  await secret.waitFor();
  assert.match(await secret.inputValue(), /^whsec_/);
  await page.getByRole("button", { name: "Copy" }).waitFor();
  await docShot("23-webhook-secret");
  await page.getByRole("button", { name: "Done" }).click();
  const listed = await api(st, "GET", "/webhooks");
  assert.equal(listed.json.items.length, 1);
  const w = listed.json.items[0];
  assert.deepEqual(w.events, ["file.created", "file.deleted"]);
  assert.equal(w.description, "backend");
  assert.equal(w.secret, undefined);
  const row = page.locator(`tr[data-webhook="${w.webhookId}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /file\.created, file\.deleted/);

  await page.getByRole("button", { name: `Send a test to ${origin}/hook` }).click();
  for (let i = 0; i < 100 && !hooks.some((x) => x.type === "webhook.test"); i++) await page.waitForTimeout(100);
  const got = hooks.find((x) => x.type === "webhook.test");
  assert.ok(got, "the endpoint got webhook.test");
  assert.match(got.headers["webhook-signature"], /^v1,/);

  await page.getByRole("button", { name: `Deliveries of ${origin}/hook` }).click();
  const dlg = page.getByRole("dialog", { name: `Deliveries to ${origin}/hook` });
  await dlg.waitFor();
  for (let i = 0; i < 30; i++) {
    if (await dlg.locator("tr[data-outcome]").count()) break;
    await page.waitForTimeout(200);
    await dlg.getByRole("button", { name: "Refresh" }).click();
  }
  const drow = dlg.locator("tbody tr").first();
  await drow.waitFor();
  const text = await drow.innerText();
  assert.match(text, /webhook\.test/);
  assert.match(text, /HTTP 200/);
  await docShot("24-webhook-deliveries");
  await dlg.getByRole("button", { name: "Close" }).click();
  await docShot("25-webhooks", true);

  await page.getByRole("button", { name: `Delete webhook ${origin}/hook` }).click();
  await page.getByRole("button", { name: "Delete webhook", exact: true }).click();
  await until(page, (id) => !document.querySelector(`tr[data-webhook="${id}"]`), w.webhookId, "the row to go");
  assert.equal((await api(st, "GET", "/webhooks")).json.items.length, 0);
});
