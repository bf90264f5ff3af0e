// Dashboard Search page (issue #30, "search and sort on the server"): name
// substring (case-insensitive), type, size range, tag, folder or account,
// sortable columns, cursor pages and the total count. Screenshot 37.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openDashboard, signIn, shots, until } from "./dash-helpers.mjs";

let env, st, page;

async function upload(path, body, type = "text/plain", tags = "") {
  const headers = { authorization: `Bearer ${st.secret}`, "content-type": type };
  if (tags) headers["x-upload-tags"] = tags;
  const res = await fetch(`${st.url}/v2/accounts/${st.account}/uploads/binary?filePath=${encodeURIComponent(path)}`, { method: "POST", headers, body });
  if (res.status !== 200) throw new Error(`upload ${path}: ${res.status} ${await res.text()}`);
}

before(async () => {
  env = await openDashboard();
  ({ st, page } = env);
  await upload("/reports/Invoice-March.pdf", "x".repeat(3000), "application/pdf", "invoice");
  await upload("/reports/2024/invoice-april.pdf", "x".repeat(12000), "application/pdf", "invoice,paid");
  await upload("/reports/notes.txt", "tiny");
  await upload("/photos/INVOICE-scan.txt", "y".repeat(600), "text/plain", "invoice");
  // 60 names that all match "item": more than one page of 50.
  const names = Array.from({ length: 60 }, (_, i) => `item-${String(i).padStart(2, "0")}.txt`);
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(names.slice(i, i + 20).map((n, j) => upload(`/many/${n}`, "z".repeat(i + j + 1))));
  }
});

after(async () => {
  await env?.close();
});

const names = () => page.locator(".search-results tbody .name-cell button").allInnerTexts();
const status = () => page.locator("section[aria-label=Results] [role=status]").innerText();

test("search: a part of the name, case-insensitive, across the account, with the total", async () => {
  await signIn(page, st);
  await page.goto(`${st.url}/dashboard#/files?path=/reports`);
  await page.getByRole("link", { name: "Search" }).click();
  await page.getByRole("heading", { name: "Search" }).waitFor();
  assert.equal(await page.getByLabel("Folder", { exact: true }).inputValue(), "/reports");
  await page.getByLabel("Where").selectOption("account");
  await page.getByLabel("Name contains").fill("invoice");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await until(page, () => /3 files match/.test(document.body.innerText), null, "3 matches");
  assert.deepEqual((await names()).map((n) => n.toLowerCase()).sort(), ["invoice-april.pdf", "invoice-march.pdf", "invoice-scan.txt"]);
  assert.match(await status(), /3 files match; all shown/);
  // The address keeps the search: a reload shows the same results.
  assert.match(page.url(), /#\/search\?.*q=invoice/);
  await page.reload();
  await until(page, () => /3 files match/.test(document.body.innerText), null, "3 matches after reload");
});

test("search: this folder only, a type, a size range, a tag", async () => {
  await signIn(page, st, st.secret, "#/search?path=/reports&scope=only&q=invoice");
  await until(page, () => /1 file matches/.test(document.body.innerText), null, "one in /reports only");
  assert.deepEqual(await names(), ["Invoice-March.pdf"]);
  await page.getByLabel("Where").selectOption("below");
  await page.getByLabel("Type").selectOption("application/pdf");
  await page.getByLabel("Size from").fill("5");
  await page.getByLabel("Unit").selectOption("KB");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await until(page, () => /1 file matches/.test(document.body.innerText) && document.body.innerText.includes("invoice-april.pdf"), null, "the 12 KB pdf");
  assert.deepEqual(await names(), ["invoice-april.pdf"]);
  await page.getByRole("button", { name: "Clear" }).click();
  await page.getByLabel("Tag").fill("paid");
  await page.getByLabel("Name contains").fill("");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await until(page, () => /1 file matches/.test(document.body.innerText) && document.body.innerText.includes("invoice-april.pdf"), null, "the paid one");
  await page.getByLabel("Name contains").fill("no-such-name");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await until(page, () => /No file matches/.test(document.body.innerText), null, "no match");
  assert.equal(await page.locator(".search-results").isVisible(), false);
});

test("search: sortable columns and cursor pages", async () => {
  await signIn(page, st, st.secret, "#/search?path=/many&q=item");
  await until(page, () => /60 files match; 50 shown/.test(document.body.innerText), null, "60 total, 50 shown");
  let shown = await names();
  assert.equal(shown.length, 50);
  assert.equal(shown[0], "item-00.txt");
  assert.equal(await page.locator("th[aria-sort=ascending] [data-sort=name]").count(), 1);
  await page.getByRole("button", { name: "Load more" }).click();
  await until(page, () => /60 files match; all shown/.test(document.body.innerText), null, "all 60");
  shown = await names();
  assert.equal(shown.length, 60);
  assert.equal(new Set(shown).size, 60, "no row twice across pages");
  assert.equal(shown[59], "item-59.txt");
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false);
  // Size, largest first: a click sorts ascending, a second click reverses.
  await page.locator("button[data-sort=size]").click();
  await until(page, () => document.querySelector("th[aria-sort=ascending] [data-sort=size]"), null, "size ascending");
  await page.locator("button[data-sort=size]").click();
  await until(page, () => document.querySelector("th[aria-sort=descending] [data-sort=size]"), null, "size descending");
  await until(page, () => document.querySelector(".search-results tbody .name-cell button")?.textContent === "item-59.txt", null, "largest first");
  assert.match(page.url(), /sort=size&order=desc/);
  await shots(page, "37-search");
});

test("search: a key that may list only /photos sees an error for the account and results in /photos", async () => {
  const res = await fetch(`${st.url}/v2/accounts/${st.account}/api_keys`, {
    method: "POST", headers: { authorization: `Bearer ${st.secret}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "secret", name: "photos", rules: ["/photos", "/photos/*", "/photos/*/**"].map((path) => ({ path, ops: ["read", "list"] })) }),
  });
  const key = (await res.json()).key;
  await signIn(page, st, key, "#/search?path=/photos&q=invoice");
  await until(page, () => /1 file matches/.test(document.body.innerText), null, "the photos match");
  assert.deepEqual(await names(), ["INVOICE-scan.txt"]);
  await page.getByLabel("Where").selectOption("account");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /list/i);
});
