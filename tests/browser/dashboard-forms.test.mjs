// Dashboard dialogs, forms and layout, bugs of issue #30 (each test failed
// before its fix): 2 the Inherit hint, 3 errors stay after a success, 4 the
// preset-name pattern, 8 blank band at 390 px, 9 copy toasts, 12 sign-in
// keeps the page, 14 "this folder and everything below" in the rules editor.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { api, rsaSigner } from "./harness.mjs";
import { openDashboard, signIn, signInFrom, put, statusWith, shots, until } from "./dash-helpers.mjs";

let env, st, page;

before(async () => {
  env = await openDashboard();
  ({ st, page } = env);
  await put(st, "/photos/a.txt", "a");
  await put(st, "/photos/2024/b.txt", "b");
  await put(st, "/other/c.txt", "c");
  await api(st, "PUT", "/folders", { folderPath: "/empty" });
});

after(async () => {
  await env?.close();
});

const setVisibility = (folderPath, value) =>
  api(st, "PUT", "/folders", { folderPath, folderSettings: { publicPermissions: value === undefined ? { set: true } : { set: true, value } } });

test("bug 2: the Inherit hint names the parent's setting, not the folder's own", async () => {
  const limited = ["Children", "Grandchildren+"].map((scope) => ({ scope, permissions: { file: { downloadFile: ["thumbnail"] } } }));
  assert.equal((await setVisibility("/", limited)).status, 200);
  assert.equal((await setVisibility("/photos", [])).status, 200);
  await signIn(page, st, st.secret, "#/files?path=/photos");
  await page.getByRole("button", { name: "Visibility" }).click();
  const dlg = page.getByRole("dialog", { name: "Visibility of /photos" });
  await dlg.getByText(/set on this folder/).waitFor();
  const inherit = dlg.locator("label.radio", { hasText: "Inherit" });
  await until(page, () => !document.querySelector("dialog[open] label.radio")?.textContent.includes("Loading"), null, "hint");
  const hint = await inherit.innerText();
  assert.doesNotMatch(hint, /from \/photos/, hint);
  assert.match(hint, /Limited \(thumbnail\) \(from \/\)/, hint);
  assert.equal(await dlg.getByRole("radio", { name: /^Private/ }).isChecked(), true);
  await dlg.getByRole("button", { name: "Cancel" }).click();
  await setVisibility("/photos");
  await setVisibility("/");
});

test("bug 3: an error goes away after a later success (JWT key, preset)", async () => {
  await signIn(page, st, st.secret, "#/keys");
  const jwtCard = page.getByRole("region", { name: "JWT keys" });
  await jwtCard.getByLabel("Public key (PEM)").fill("not a pem");
  await jwtCard.getByRole("button", { name: "Add JWT key" }).click();
  await jwtCard.getByRole("alert").waitFor();
  await jwtCard.getByLabel("Public key (PEM)").fill(rsaSigner().pem);
  await jwtCard.getByRole("button", { name: "Add JWT key" }).click();
  await page.getByText("JWT key added.").waitFor();
  await jwtCard.getByRole("cell", { name: "RS256" }).waitFor();
  assert.equal(await jwtCard.getByRole("alert").count(), 0, "the PEM error is still shown");

  await page.getByRole("link", { name: "Presets" }).click();
  await page.getByLabel("Preset name").fill("raw");
  await page.getByRole("button", { name: "Save preset" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /reserved/);
  await page.getByLabel("Preset name").fill("small");
  await page.getByRole("button", { name: "Save preset" }).click();
  await page.getByRole("cell", { name: "small", exact: true }).waitFor();
  assert.equal(await page.getByRole("alert").count(), 0, "the preset error is still shown");
});

test("bug 4: the preset-name pattern is valid and checked in the browser", async () => {
  const consoleErrors = [];
  const onConsole = (m) => { if (/pattern/i.test(m.text())) consoleErrors.push(m.text()); };
  page.on("console", onConsole);
  await signIn(page, st, st.secret, "#/presets");
  const name = page.getByLabel("Preset name");
  await name.fill("Bad Name");
  assert.equal(await name.evaluate((el) => el.validity.patternMismatch), true);
  await name.fill("good-name-2");
  assert.equal(await name.evaluate((el) => el.validity.valid), true);
  await name.fill("Bad Name");
  await page.getByRole("button", { name: "Save preset" }).click();
  await page.waitForTimeout(300);
  const presets = await api(st, "GET", "/transformations");
  assert.ok(!presets.json.items.some((p) => p.preset === "Bad Name"));
  assert.equal(await page.getByRole("alert").count(), 0, "the browser stopped the form, not the server");
  page.off("console", onConsole);
  assert.deepEqual(consoleErrors, []);
  await name.fill("thumbnail");
  await page.getByLabel("Parameters").fill("w=64&h=64&fit=crop");
  await page.getByLabel("Preview with file").fill("/photos/a.txt");
  await page.getByText(/No preview/).waitFor();
});

test("bug 8: no blank band under the navigation at 390 px", async () => {
  await signIn(page, st, st.secret, "#/files?path=/empty");
  await page.getByText("This folder is empty").waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(150);
  const nav = await page.getByRole("navigation", { name: "Dashboard sections" }).boundingBox();
  const main = await page.locator("#main").boundingBox();
  assert.ok(nav.height < 70, `nav is ${nav.height} px high`);
  assert.ok(main.y - (nav.y + nav.height) < 2, `gap ${main.y - (nav.y + nav.height)} px`);
  await page.setViewportSize({ width: 1280, height: 800 });
});

test("bug 9: copy toasts say what was copied", async () => {
  await browserClipboard();
  await signIn(page, st, st.secret, "#/files?path=/photos");
  await page.getByRole("button", { name: "Details of a.txt" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByRole("button", { name: "Copy URL" }).click();
  await page.getByText("URL copied to the clipboard.").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${st.url}/${st.account}/raw/photos/a.txt`);
  await dlg.getByRole("button", { name: "Create signed link" }).click();
  await dlg.getByLabel("Signed link").waitFor();
  await dlg.getByLabel("Signed link").locator("xpath=..").getByRole("button", { name: "Copy" }).click();
  await page.getByText("Signed link copied to the clipboard.").waitFor();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), /sig=/);
  await dlg.getByRole("button", { name: "Close" }).first().click();
});

async function browserClipboard() {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: st.url });
}

test("bug 12: signing in from #/presets stays on Presets", async () => {
  await signInFrom(page, st, st.secret, "#/presets");
  await page.getByRole("heading", { name: "Transformation presets" }).waitFor({ timeout: 5000 });
  assert.equal(await page.evaluate(() => location.hash), "#/presets");
});

test("bug 14: 'this folder and everything below' makes three rules; /photos can be listed", async () => {
  await signIn(page, st, st.secret, "#/keys");
  const form = page.locator("form.create-key");
  const help = await form.getByRole("note").innerText();
  assert.match(help, /\/photos\/\* .*not .*\/photos itself|does not include \/photos itself/s, help);
  await form.getByLabel("Name").fill("photos tree");
  await form.getByRole("button", { name: "Add rule" }).click();
  await form.getByLabel("Applies to").selectOption({ label: "This folder and everything below" });
  await form.getByLabel("Folder", { exact: true }).fill("/photos");
  for (const op of ["create"]) await form.getByLabel(op, { exact: true }).uncheck();
  await form.getByLabel("list", { exact: true }).check();
  await shots(page, "15-rules-folder");
  await form.getByRole("button", { name: "Create key" }).click();
  const dlg = page.getByRole("dialog", { name: "API key created" });
  const key = await dlg.getByLabel("API key").inputValue();
  await dlg.getByRole("button", { name: "Done" }).click();
  const listed = (await api(st, "GET", "/api_keys")).json.items.find((k) => k.name === "photos tree");
  assert.deepEqual(listed.rules.map((r) => r.path).sort(), ["/photos", "/photos/*", "/photos/*/**"]);
  for (const r of listed.rules) assert.deepEqual([...r.ops].sort(), ["list", "read"]);
  const list = (p) => statusWith(st, key, `/v2/accounts/${st.account}/folders/list?folderPath=${encodeURIComponent(p)}`);
  assert.equal(await list("/photos"), 200);
  assert.equal(await list("/photos/2024"), 200);
  assert.equal(await list("/"), 403);
  assert.equal(await list("/other"), 403);
  assert.equal(await statusWith(st, key, `/${st.account}/raw/photos/2024/b.txt`), 200);
  // The key table shows the three rules as one line.
  await page.getByRole("cell", { name: /\/photos and everything below/ }).waitFor();
});
