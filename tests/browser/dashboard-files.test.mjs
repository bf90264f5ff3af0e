// Dashboard Files page, bugs of issue #30 (each test failed before its fix):
// 1 `null` in details, 5 error + empty + Load more at once, 6 Upload looks
// enabled, 7 select-all stays checked, 10 dialogs survive navigation,
// 13 filter only on loaded rows and case-sensitive, 15 focus and tab stops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { api } from "./harness.mjs";
import { openDashboard, signIn, put, keyWith, shots, until } from "./dash-helpers.mjs";

let env, st, page;

before(async () => {
  env = await openDashboard();
  ({ st, page } = env);
  await put(st, "/docs/readme.txt", "hello\n");
  await put(st, "/photos/a.txt", "a");
  await put(st, "/photos/2024/b.txt", "b");
  for (const n of ["a1.txt", "a2.txt", "b1.txt"]) await put(st, `/sel/${n}`, n);
  // 220 names, then one that sorts after them all (beyond the first page of 100).
  const names = Array.from({ length: 220 }, (_, i) => `file-${String(i).padStart(3, "0")}.txt`);
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(names.slice(i, i + 20).map((n) => put(st, `/big/${n}`, n)));
  }
  await put(st, "/big/zz-Target.txt", "found me");
});

after(async () => {
  await env?.close();
});

test("bug 1: details of a non-image file show no `null`", async () => {
  await signIn(page, st);
  await page.goto(`${st.url}/dashboard#/files?path=/docs`);
  await page.getByRole("button", { name: "Details of readme.txt" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByText("text/plain").waitFor();
  const text = await dlg.locator(".d-body").innerText();
  assert.doesNotMatch(text, /\bnull\b/, text.slice(0, 80));
  assert.equal(await dlg.locator(".d-body").evaluate((el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())), false);
  await dlg.getByRole("button", { name: "Close" }).first().click();
});

test("bug 5: a listing error shows neither 'empty' nor 'Load more'", async () => {
  const key = await keyWith(st, [{ path: "/photos/*", ops: ["read", "list"] }]);
  await signIn(page, st, key);
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /may not list \//);
  assert.equal(await page.getByText("This folder is empty").isVisible(), false, "empty text shown with the error");
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false, "Load more shown with the error");
  assert.equal(await page.getByRole("button", { name: "Try again" }).isVisible(), false, "a 403 is not retried");
  // The server unreachable: the error, a "Try again", no "empty".
  await signIn(page, st);
  await page.route("**/folders/list?**", (r) => r.abort("connectionrefused"));
  await page.goto(`${st.url}/dashboard#/files?path=/docs`);
  await page.getByText("The server could not be reached.").waitFor();
  assert.equal(await page.getByText("This folder is empty").isVisible(), false);
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false);
  await shots(page, "16-list-error");
  await page.unroute("**/folders/list?**");
  await page.getByRole("button", { name: "Try again" }).click();
  await page.getByRole("button", { name: "Details of readme.txt" }).waitFor();
  assert.equal(await page.getByRole("alert").count(), 0);
});

test("bug 6: 'Upload files' looks disabled for a key without create", async () => {
  const key = await keyWith(st, [{ path: "/photos", ops: ["list"] }, { path: "/photos/*", ops: ["read", "list"] }]);
  // It cannot list /, where it lands: the error names what it can list.
  await signIn(page, st, key);
  await page.getByRole("alert").waitFor();
  await page.getByRole("link", { name: "/photos" }).click();
  await page.getByRole("button", { name: "Details of a.txt" }).waitFor();
  const label = page.locator("label.upload-label");
  await label.waitFor();
  const style = await label.evaluate((el) => ({ opacity: getComputedStyle(el).opacity, cursor: getComputedStyle(el).cursor }));
  assert.ok(Number(style.opacity) < 0.7, `opacity ${style.opacity}`);
  assert.equal(style.cursor, "not-allowed");
  assert.equal(await label.getAttribute("aria-disabled"), "true");
  assert.equal(await page.getByLabel("Upload files").isDisabled(), true);
});

test("bug 7: select-all is cleared after a bulk delete and after clearing the filter", async () => {
  await signIn(page, st, st.secret, "#/files?path=/sel");
  const all = page.getByRole("checkbox", { name: "Select all files" });
  await page.getByRole("button", { name: "Details of b1.txt" }).waitFor();
  // Filter, select all shown, clear the filter: not every row is selected now.
  await page.getByLabel("Filter by name prefix").fill("a");
  await until(page, () => document.querySelectorAll("tbody input[data-file]").length === 2, null, "two rows");
  await all.check();
  await page.getByLabel("Filter by name prefix").fill("");
  await page.getByRole("button", { name: "Details of b1.txt" }).waitFor();
  assert.equal(await all.isChecked(), false, "select-all still checked with b1.txt unselected");
  assert.equal(await all.evaluate((el) => el.indeterminate), true);
  assert.equal(await page.getByRole("button", { name: /Delete selected \(2\)/ }).count(), 1);
  // Select all, delete: the box is cleared with the rows.
  await all.check();
  await page.getByRole("button", { name: /Delete selected \(3\)/ }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("Deleted 3 files.").waitFor();
  await page.getByText("This folder is empty").waitFor();
  assert.equal(await all.isChecked(), false, "select-all still checked after the delete");
});

test("bug 10: dialogs close when the page changes", async () => {
  await signIn(page, st, st.secret, "#/files?path=/photos");
  await page.getByRole("button", { name: "Visibility" }).click();
  await page.getByRole("dialog", { name: "Visibility of /photos" }).getByText(/Anonymous access now/).waitFor();
  await page.evaluate(() => { location.hash = "#/files?path=/"; });
  await page.getByRole("link", { name: "photos/" }).waitFor();
  assert.equal(await page.locator("dialog[open]").count(), 0, "the Visibility dialog is still open");
  // The browser's Back button too.
  await page.getByRole("button", { name: "Visibility" }).click();
  await page.getByRole("dialog", { name: "Visibility of /" }).waitFor();
  await page.goBack();
  await page.getByRole("link", { name: "2024/" }).waitFor();
  assert.equal(await page.locator("dialog[open]").count(), 0);
});

test("bug 13: the filter is case-insensitive and finds names not loaded yet", async () => {
  await signIn(page, st, st.secret, "#/files?path=/big");
  const filter = page.getByLabel("Filter by name prefix");
  await page.getByRole("button", { name: "Details of file-000.txt" }).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 100, "first page");
  await filter.fill("FILE-00");
  await until(page, () => document.querySelectorAll("tbody tr").length === 10, null, "10 rows for FILE-00");
  // Beyond the loaded rows, and in other case.
  await filter.fill("ZZ-t");
  await page.getByRole("button", { name: "Details of zz-Target.txt" }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator("tbody tr").count(), 1);
  assert.equal(await page.getByText(/starts with that prefix/).count(), 0);
  await shots(page, "13-filter-search");
  // No match anywhere: said once the whole folder was searched.
  await filter.fill("nope");
  await page.getByText(/No name in this folder starts with/).waitFor();
  // Cleared: the loaded page again, with its Load more.
  await filter.fill("");
  await until(page, () => document.querySelectorAll("tbody tr").length === 100, null, "100 rows again");
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), true);
});

test("bug 15: skip link, focus after opening a folder, two tab stops per file row", async () => {
  await signIn(page, st, st.secret, "#/files?path=/");
  await page.reload(); // focus starts at the document
  await page.getByRole("link", { name: "photos/" }).waitFor();
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement.textContent.trim());
  assert.equal(first, "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
  // Open a folder with the keyboard: focus goes to the page heading, not body.
  await page.getByRole("link", { name: "photos/" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("link", { name: "2024/" }).waitFor();
  const active = await page.evaluate(() => ({ tag: document.activeElement.tagName, text: document.activeElement.textContent, inMain: !!document.activeElement.closest("#main") }));
  assert.notEqual(active.tag, "BODY");
  assert.ok(active.inMain, JSON.stringify(active));
  assert.match(active.text, /photos/);
  // A file row: its checkbox and its name (which opens the details).
  const stops = await page.locator("tr", { has: page.getByRole("button", { name: "Details of a.txt" }) }).evaluate((tr) =>
    [...tr.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")]
      .filter((el) => !el.disabled && el.tabIndex >= 0).length);
  assert.equal(stops, 2);
  await page.getByRole("button", { name: "Details of a.txt" }).press("Enter");
  await page.getByRole("dialog").getByText("Path").first().waitFor();
  await page.keyboard.press("Escape");
});
