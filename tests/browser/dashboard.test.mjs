// The dashboard (SPEC §10) in headless Chromium: sign in with the secret key,
// create a folder, upload three files (one of 100 MiB through the multipart
// protocol) and watch the progress reach 100 %, make the folder Private (an
// anonymous fetch gets 401), create a key with a rule and use it from Node,
// revoke it, sign out. Screenshots of every page at 1280×800 and 390×844 go to
// artifacts/dashboard/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { openDashboard, shots as shotsOf } from "./dash-helpers.mjs";

let env, st, browser, page, files;
const shots = (name) => shotsOf(page, name);

const raw = (path, headers = {}) => fetch(`${st.url}/${st.account}/raw${path}`, { headers });

before(async () => {
  files = mkdtempSync(join(tmpdir(), "stowage-dash-files-"));
  writeFileSync(join(files, "notes.txt"), "hello from the dashboard\n");
  const big = Buffer.alloc(100 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  writeFileSync(join(files, "big.bin"), big);
  env = await openDashboard();
  ({ st, browser, page } = env);
  page.setDefaultTimeout(30000);
  // A real 320×200 PNG drawn by Chromium, for thumbnails and the preset preview.
  const b64 = await page.evaluate(async () => {
    const c = document.createElement("canvas");
    c.width = 320; c.height = 200;
    const g = c.getContext("2d");
    g.fillStyle = "#2f6fd6"; g.fillRect(0, 0, 320, 200);
    g.fillStyle = "#f5b82e"; g.beginPath(); g.arc(160, 100, 70, 0, 7); g.fill();
    const blob = await new Promise((r) => c.toBlob(r, "image/png"));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let bin = ""; for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  });
  writeFileSync(join(files, "chart.png"), Buffer.from(b64, "base64"));
});

/** The natural width of the row thumbnail of `name`, once it has loaded. */
async function thumbWidth(name) {
  const img = page.locator("tr", { has: page.getByRole("button", { name: `Details of ${name}` }) }).locator("img.thumb");
  for (let i = 0; i < 100; i++) {
    const w = await img.evaluate((el) => (el.complete ? el.naturalWidth : 0));
    if (w > 0) return { width: w, src: await img.getAttribute("src") };
    await page.waitForTimeout(100);
  }
  return { width: 0, src: await img.getAttribute("src") };
}

after(async () => {
  await env?.close();
  if (files) rmSync(files, { recursive: true, force: true });
});

test("sign in with the secret key", async () => {
  await page.goto(`${st.url}/dashboard`);
  await shots("01-sign-in");
  await page.getByLabel("Secret key").fill("secret_nope");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /not valid/i);
  await shots("02-sign-in-error");
  await page.getByLabel("Secret key").fill(st.secret);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Dashboard sections" }).waitFor();
  const cookies = await browser.context.cookies(st.url + "/dashboard");
  const c = cookies.find((x) => x.name === "stowage_dashboard");
  assert.ok(c && c.httpOnly && c.sameSite === "Strict" && c.path === "/dashboard");
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage)), "{}");
  await page.getByText("This folder is empty").waitFor();
  await shots("03-files-empty");
});

test("create a folder, upload three files (100 MiB multipart), browse into it", async () => {
  await page.getByRole("button", { name: "New folder" }).click();
  await page.getByLabel("Folder name").fill("reports");
  await shots("04-new-folder-dialog");
  await page.getByRole("button", { name: "Create folder" }).click();
  await page.getByRole("link", { name: "reports/" }).click();
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByText("reports").waitFor();
  await page.getByLabel("Upload files").setInputFiles(["notes.txt", "chart.png", "big.bin"].map((f) => join(files, f)));
  const bigBar = page.getByRole("progressbar", { name: "Upload progress for big.bin" });
  await bigBar.waitFor();
  // Watch the bar move and reach 100 %.
  let seenPartial = false;
  for (let i = 0; i < 600; i++) {
    const v = Number(await bigBar.getAttribute("value"));
    if (v > 0 && v < 100) {
      if (!seenPartial) await shots("05-uploading");
      seenPartial = true;
    }
    if (await page.locator('li[data-path="/reports/big.bin"][data-done="true"]').count()) break;
    await page.waitForTimeout(100);
  }
  assert.equal(await bigBar.getAttribute("value"), "100");
  await page.locator('.uploads li[data-done="true"]').nth(2).waitFor();
  for (const name of ["notes.txt", "chart.png", "big.bin"]) {
    await page.getByRole("button", { name: `Details of ${name}` }).waitFor();
  }
  // No "thumbnail" preset yet: the thumbnail comes from /image?w=96&h=96&fit=crop.
  const t = await thumbWidth("chart.png");
  assert.equal(t.width, 96, `thumbnail ${t.src}`);
  assert.match(t.src, /\/image\/reports\/chart\.png\?w=96/);
  await shots("06-files-uploaded");
  const head = await fetch(`${st.url}/${st.account}/raw/reports/big.bin`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(100 * 1024 * 1024));
});

test("file details", async () => {
  await page.getByRole("button", { name: "Details of chart.png" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByText("image/png").waitFor();
  await dlg.getByText(/Versions \(1\)/).waitFor();
  await shots("07-file-details");
  await dlg.getByRole("button", { name: "Close" }).first().click();
});

test("set the folder Private: anonymous fetch gets 401", async () => {
  assert.equal((await raw("/reports/notes.txt")).status, 200);
  await page.getByRole("button", { name: "Visibility" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByText(/inherited from \//).waitFor();
  await dlg.getByRole("radio", { name: /^Private/ }).check();
  await shots("08-visibility");
  await dlg.getByRole("button", { name: "Save" }).click();
  await page.getByText("Visibility of /reports saved.").waitFor();
  let status;
  for (let i = 0; i < 30; i++) {
    status = (await raw("/reports/notes.txt")).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 401);
});

test("create a key with a rule, use it from Node, revoke it", async () => {
  await page.getByRole("link", { name: "Keys" }).click();
  const form = page.locator("form.create-key");
  await form.getByLabel("Name").fill("reports reader");
  await form.getByRole("button", { name: "Add rule" }).click();
  await form.getByLabel("Path glob").fill("/reports/*");
  await form.getByLabel("create", { exact: true }).uncheck();
  await shots("09-keys");
  await form.getByRole("button", { name: "Create key" }).click();
  const dlg = page.getByRole("dialog", { name: "API key created" });
  const key = await dlg.getByLabel("API key").inputValue();
  assert.match(key, /^secret_/);
  await shots("10-key-created");
  await dlg.getByRole("button", { name: "Done" }).click();

  const auth = { authorization: `Bearer ${key}` };
  assert.equal((await raw("/reports/notes.txt", auth)).status, 200);
  const up = await fetch(`${st.url}/v2/accounts/${st.account}/uploads/binary?filePath=/reports/new.txt`, {
    method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: "x",
  });
  assert.equal(up.status, 403, "the rule grants read only");

  const display = `${key.slice(0, 14)}…${key.slice(-4)}`;
  await page.getByRole("button", { name: `Revoke key ${display}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
  await page.getByText("Key revoked.").waitFor();
  let status;
  for (let i = 0; i < 30; i++) {
    status = (await raw("/reports/notes.txt", auth)).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 401);
});

test("presets and account pages", async () => {
  await page.getByRole("link", { name: "Presets" }).click();
  await page.getByLabel("Preset name").fill("thumbnail");
  await page.getByLabel("Parameters").fill("w=64&h=64&fit=crop");
  await page.getByLabel("Preview with file").fill("/reports/chart.png");
  const preview = page.getByRole("img", { name: "Preset preview" }).locator("img");
  await preview.waitFor();
  await page.waitForFunction(() => document.querySelector(".preset-preview img")?.naturalWidth > 0);
  assert.equal(await preview.evaluate((el) => [el.naturalWidth, el.naturalHeight].join("x")), "64x64");
  await page.getByRole("button", { name: "Save preset" }).click();
  await page.getByRole("cell", { name: "w=64&h=64&fit=crop" }).waitFor();
  await shots("11-presets");
  // The Files page now takes thumbnails through the preset.
  await page.getByRole("link", { name: "Files" }).click();
  await page.getByRole("link", { name: "reports/" }).click();
  const t = await thumbWidth("chart.png");
  assert.equal(t.width, 64, `thumbnail ${t.src}`);
  assert.match(t.src, /\/thumbnail\/reports\/chart\.png$/);
  await page.getByRole("link", { name: "Account" }).click();
  await page.getByText("Max file size").waitFor();
  const files = await page.locator(".stat").first().locator(".v").innerText();
  assert.equal(files, "3");
  await shots("12-account");
});

test("sign out", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Secret key").waitFor();
  const res = await page.evaluate(async (acc) => (await fetch(`/dashboard/api/v2/accounts/${acc}/folders/list?folderPath=/`)).status, st.account);
  assert.equal(res, 401);
});
