// Dashboard file operations of issue #30: restore a version as current, a
// folder delete that says how many files it removes, a warning before an
// upload replaces a file, a copy-URL button per upload, the upload queue
// folded away, visibility badges on folders. Screenshot 38.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { api } from "./harness.mjs";
import { openDashboard, signIn, put, shots, until } from "./dash-helpers.mjs";

let env, st, page;

before(async () => {
  env = await openDashboard();
  ({ st, page } = env);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: st.url });
  await put(st, "/docs/a.txt", "first");
  await put(st, "/docs/a.txt", "second");
  for (const n of ["x.txt", "y.txt", "deep/z.txt"]) await put(st, `/old/${n}`, n);
  await put(st, "/shared/readme.txt", "hi");
  await put(st, "/closed/readme.txt", "hi");
  const pub = await api(st, "PUT", "/folders", { folderPath: "/shared", folderSettings: { publicPermissions: { set: true, value: [{ scope: "Children", permissions: { file: { downloadFile: ["*"] } } }, { scope: "Grandchildren+", permissions: { file: { downloadFile: ["*"] } } }] } } });
  assert.ok(pub.status < 300, `folder settings: ${pub.status} ${JSON.stringify(pub.json)}`);
  const priv = await api(st, "PUT", "/folders", { folderPath: "/closed", folderSettings: { publicPermissions: { set: true, value: [] } } });
  assert.ok(priv.status < 300, `folder settings: ${priv.status} ${JSON.stringify(priv.json)}`);
});

after(async () => {
  await env?.close();
});

const raw = async (path) => (await fetch(`${st.url}/${st.account}/raw${path}`, { headers: { authorization: `Bearer ${st.secret}` } })).text();

test("restore: an older version becomes current, the current one is kept", async () => {
  await signIn(page, st, st.secret, "#/files?path=/docs");
  await page.getByRole("button", { name: "Details of a.txt" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByText("Versions (2)").waitFor();
  assert.equal(await dlg.getByRole("button", { name: "Restore version 1" }).count(), 0, "the current version has no Restore");
  await dlg.getByRole("button", { name: "Restore version 2" }).click();
  await page.getByRole("dialog", { name: "Restore this version?" }).getByRole("button", { name: "Restore" }).click();
  await page.getByText(/^Restored version /).waitFor();
  assert.equal(await raw("/docs/a.txt"), "first");
  await page.getByRole("dialog").getByText("Versions (3)").waitFor();
  await page.getByRole("dialog").getByRole("button", { name: "Close" }).last().click();
});

test("folder delete says how many files it removes", async () => {
  await signIn(page, st, st.secret, "#/files?path=/");
  await page.getByRole("button", { name: "Delete folder old" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete this folder?" });
  await confirm.getByText("the 3 files in it and below it").waitFor();
  await confirm.getByRole("button", { name: "Delete folder and 3 files" }).click();
  await page.getByText("Folder deleted.").waitFor();
  const left = await api(st, "GET", "/files/search?folderPath=/old&limit=1");
  assert.equal(left.json.total, 0);
});

test("badges: a folder's own visibility is shown, an inheriting folder has none", async () => {
  await signIn(page, st, st.secret, "#/files?path=/");
  const row = (name) => page.locator("tbody tr", { has: page.getByRole("link", { name: `${name}/`, exact: true }) });
  await until(page, () => document.querySelectorAll("tbody tr").length >= 3, null, "rows");
  assert.equal(await row("shared").locator(".badge").innerText(), "Public");
  assert.equal(await row("closed").locator(".badge").innerText(), "Private");
  assert.equal(await row("docs").locator(".badge").count(), 0);
  await shots(page, "38-folder-badges");
});

test("an upload that would replace a file asks first; Cancel uploads nothing", async () => {
  await signIn(page, st, st.secret, "#/files?path=/docs");
  await page.getByLabel("Upload files").setInputFiles([
    { name: "a.txt", mimeType: "text/plain", buffer: Buffer.from("third") },
    { name: "new.txt", mimeType: "text/plain", buffer: Buffer.from("new") },
  ]);
  const ask = page.getByRole("dialog", { name: "Replace a file?" });
  await ask.getByText("a.txt already exists in /docs").waitFor();
  await ask.getByRole("button", { name: "Cancel" }).click();
  await page.waitForTimeout(300);
  assert.equal(await raw("/docs/a.txt"), "first");
  assert.equal((await api(st, "GET", "/files/details?filePath=/docs/new.txt")).status, 404);
  // Again, replacing: both uploaded, each with a Copy URL button.
  await page.getByLabel("Upload files").setInputFiles([
    { name: "a.txt", mimeType: "text/plain", buffer: Buffer.from("third") },
    { name: "new.txt", mimeType: "text/plain", buffer: Buffer.from("new") },
  ]);
  await page.getByRole("dialog", { name: "Replace a file?" }).getByRole("button", { name: "Replace" }).click();
  await until(page, () => document.querySelectorAll(".uploads li[data-done=true]").length === 2, null, "two uploads done");
  assert.equal(await raw("/docs/a.txt"), "third");
  assert.equal(await raw("/docs/new.txt"), "new");
  assert.match(await page.locator(".u-summary").innerText(), /^2 done$/);
  await page.getByRole("button", { name: "Copy the URL of new.txt" }).click();
  await page.getByText("URL copied to the clipboard.").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${st.url}/${st.account}/raw/docs/new.txt`);
  // The queue folds away and comes back.
  const fold = page.getByRole("button", { name: "Hide" });
  await fold.click();
  assert.equal(await page.locator(".uploads").isVisible(), false);
  assert.equal(await page.getByRole("button", { name: "Show" }).getAttribute("aria-expanded"), "false");
  await page.getByRole("button", { name: "Show" }).click();
  assert.equal(await page.locator(".uploads").isVisible(), true);
});
