// Dashboard Files page, second pass (issue #30): the grid view, the
// lightbox, the transformation URL builder, upload speed and ETA, bulk move
// and copy. Screenshots 30–36 go to artifacts/dashboard/ (copied to docs/dashboard/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync, crc32 } from "node:zlib";
import { api } from "./harness.mjs";
import { openDashboard, signIn, put, shots, until } from "./dash-helpers.mjs";

let env, st, page;

/** A w×h PNG of one colour, encoded here (RGB, 8 bits). */
function png(w, h, [r, g, b]) {
  const row = Buffer.alloc(1 + w * 3);
  for (let x = 0; x < w; x++) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
/** A w×h uncompressed RGB TIFF (little-endian, one strip): Chromium cannot show it. */
function tiff(w, h, rgb) {
  const pixels = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) pixels.set(rgb, i * 3);
  const entries = [[256, 3, 1, w], [257, 3, 1, h], [258, 3, 3, 0], [259, 3, 1, 1], [262, 3, 1, 2],
    [273, 4, 1, 0], [277, 3, 1, 3], [278, 3, 1, h], [279, 4, 1, pixels.length]];
  const ifdAt = 8, bitsAt = ifdAt + 2 + entries.length * 12 + 4, dataAt = bitsAt + 6;
  entries[2][3] = bitsAt;
  entries[5][3] = dataAt;
  const head = Buffer.alloc(dataAt);
  head.write("II", 0, "ascii");
  head.writeUInt16LE(42, 2);
  head.writeUInt32LE(ifdAt, 4);
  head.writeUInt16LE(entries.length, ifdAt);
  entries.forEach(([tag, type, count, value], i) => {
    const o = ifdAt + 2 + i * 12;
    head.writeUInt16LE(tag, o);
    head.writeUInt16LE(type, o + 2);
    head.writeUInt32LE(count, o + 4);
    if (type === 3 && count === 1) head.writeUInt16LE(value, o + 8); else head.writeUInt32LE(value, o + 8);
  });
  for (let k = 0; k < 3; k++) head.writeUInt16LE(8, bitsAt + k * 2);
  return Buffer.concat([head, pixels]);
}
/** The pixel size in a PNG's IHDR. */
const pngSize = (buf) => ({ w: buf.readUInt32BE(16), h: buf.readUInt32BE(20) });

const IMAGES = [["a.png", 400, 300, [200, 40, 40]], ["b.png", 300, 400, [40, 160, 60]], ["c.png", 640, 480, [40, 80, 200]]];

before(async () => {
  env = await openDashboard();
  ({ st, page } = env);
  for (const [name, w, h, rgb] of IMAGES) await put(st, `/gallery/${name}`, png(w, h, rgb), "image/png");
  await put(st, "/gallery/notes.txt", "not an image\n");
  await put(st, "/scans/page.tiff", tiff(64, 48, [90, 90, 90]), "image/tiff");
  for (const n of ["x1", "x2", "y"]) await put(st, `/bulk/${n}.txt`, n);
  await put(st, "/dest/x2.txt", "already here");
  assert.equal((await api(st, "PUT", "/transformations/small", { params: "w=64&h=64&fit=crop" })).status, 200);
});

after(async () => {
  await env?.close();
});

const tileImgs = () => page.locator("ul.grid button.tile-img img");

test("grid view: a thumbnail per image, 256 px, loaded; the choice is remembered", async () => {
  await signIn(page, st, st.secret, "#/files?path=/gallery");
  await page.getByRole("button", { name: "Details of notes.txt" }).waitFor();
  await until(page, () => [...document.querySelectorAll("td.col-thumb button img")].filter((i) => i.complete && i.naturalWidth > 0).length === 3, null, "list thumbnails");
  await shots(page, "30-files-list");
  await page.getByRole("button", { name: "Grid", exact: true }).click();
  await until(page, () => {
    const imgs = [...document.querySelectorAll("ul.grid button.tile-img img")];
    return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, null, "three loaded thumbnails");
  const sizes = await tileImgs().evaluateAll((imgs) => imgs.map((i) => [i.getAttribute("src"), i.naturalWidth, i.naturalHeight]));
  assert.deepEqual(sizes.map(([, w, h]) => [w, h]), [[256, 256], [256, 256], [256, 256]]);
  assert.match(sizes[0][0], /\/image\/gallery\/a\.png\?w=256&h=256&fit=crop&f=webp$/);
  // Four tiles: the text file has an icon and no "View" button.
  assert.equal(await page.locator("ul.grid li.tile").count(), 4);
  assert.equal(await page.getByRole("button", { name: "View notes.txt" }).count(), 0);
  assert.equal(await page.locator("table").isVisible(), false);
  // Selection works in the grid too.
  await page.getByRole("checkbox", { name: "Select all files" }).check();
  assert.equal(await page.getByRole("button", { name: "Delete selected (4)" }).count(), 1);
  await page.getByRole("checkbox", { name: "Select all files" }).uncheck();
  await shots(page, "31-files-grid");
  // Reloaded: still the grid.
  await page.reload();
  await tileImgs().first().waitFor();
  assert.equal(await page.getByRole("button", { name: "Grid", exact: true }).getAttribute("aria-pressed"), "true");
  assert.equal(await page.evaluate(() => localStorage.getItem("stowage.filesView")), "grid");
});

test("lightbox: next and previous change the image, arrows wrap, Escape returns the focus", async () => {
  await signIn(page, st, st.secret, "#/files?path=/gallery");
  await page.getByRole("button", { name: "Grid", exact: true }).click();
  await page.getByRole("button", { name: "View a.png" }).click();
  const box = page.locator("dialog.lightbox");
  await box.waitFor();
  const img = box.locator("img.lb-img");
  const shown = async () => {
    await until(page, () => { const i = document.querySelector("dialog.lightbox img.lb-img"); return i.complete && i.naturalWidth > 0; }, null, "the image loaded");
    return img.evaluate((i) => ({ src: i.getAttribute("src"), w: i.naturalWidth, h: i.naturalHeight }));
  };
  let s = await shown();
  assert.match(s.src, /\/image\/gallery\/a\.png\?/);
  assert.deepEqual([s.w, s.h], [400, 300]); // fit=max never enlarges
  assert.match(await box.innerText(), /1 of 3/);
  await box.getByRole("button", { name: "Next image" }).click();
  s = await shown();
  assert.match(s.src, /\/gallery\/b\.png\?/);
  assert.deepEqual([s.w, s.h], [300, 400]);
  assert.match(await box.innerText(), /2 of 3/);
  assert.equal(await page.getByRole("dialog", { name: "b.png, image 2 of 3" }).count(), 1);
  await page.keyboard.press("ArrowRight");
  assert.match((await shown()).src, /\/gallery\/c\.png\?/);
  await shots(page, "32-lightbox");
  await page.keyboard.press("ArrowRight"); // wraps to the first
  assert.match((await shown()).src, /\/gallery\/a\.png\?/);
  await page.keyboard.press("ArrowLeft");
  assert.match((await shown()).src, /\/gallery\/c\.png\?/);
  await box.getByRole("button", { name: "Previous image" }).click();
  assert.match((await shown()).src, /\/gallery\/b\.png\?/);
  // The focus stays in the dialog, and comes back to the opener.
  assert.equal(await page.evaluate(() => !!document.activeElement.closest("dialog.lightbox")), true);
  await page.keyboard.press("Escape");
  await box.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "View a.png");
  // From the list view too: the thumbnail opens it on that image.
  await page.getByRole("button", { name: "List", exact: true }).click();
  await page.locator("tr", { has: page.getByRole("button", { name: "Details of c.png" }) }).locator("button.thumb-btn").click();
  assert.match((await shown()).src, /\/gallery\/c\.png\?/);
  // A click on the dark stage beside the image closes it.
  await box.locator(".lb-stage").click({ position: { x: 5, y: 5 } });
  await box.waitFor({ state: "detached" });
});

test("builder: the URL has exactly the chosen parameters and serves an image of that size", async () => {
  await signIn(page, st, st.secret, "#/files?path=/gallery");
  const det = await api(st, "GET", `/files/details?filePath=${encodeURIComponent("/gallery/c.png")}`);
  const origin = det.json.fileUrl.split(`/${st.account}/raw/`)[0];
  await page.getByRole("button", { name: "Details of c.png" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByText("640 × 480 px").waitFor(); // dimensions, from the preview
  await dlg.getByLabel("Width", { exact: true }).fill("200");
  await dlg.getByLabel("Height", { exact: true }).fill("100");
  await dlg.getByLabel("Fit", { exact: true }).selectOption("crop");
  await dlg.getByLabel("Format", { exact: true }).selectOption("png");
  await dlg.getByLabel("Quality", { exact: true }).fill("70");
  const url = dlg.getByLabel("Transformation URL");
  const expected = `${origin}/${st.account}/image/gallery/c.png?w=200&h=100&fit=crop&f=png&q=70`;
  assert.equal(await url.inputValue(), expected);
  await dlg.getByText("Result: 200 × 100 px").waitFor(); // the live preview
  let res = await fetch(expected, { headers: { authorization: `Bearer ${st.secret}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.deepEqual(pngSize(Buffer.from(await res.arrayBuffer())), { w: 200, h: 100 });
  await dlg.locator(".tb-preview").scrollIntoViewIfNeeded();
  await shots(page, "33-builder");
  // A preset: its URL carries format and quality only.
  await dlg.getByLabel("Preset", { exact: true }).selectOption("small");
  const viaPreset = `${origin}/${st.account}/small/gallery/c.png?f=png&q=70`;
  assert.equal(await url.inputValue(), viaPreset);
  assert.equal(await dlg.getByLabel("Width", { exact: true }).isVisible(), false);
  await dlg.getByText("Result: 64 × 64 px").waitFor();
  res = await fetch(viaPreset, { headers: { authorization: `Bearer ${st.secret}` } });
  assert.equal(res.status, 200);
  assert.deepEqual(pngSize(Buffer.from(await res.arrayBuffer())), { w: 64, h: 64 });
  // Padding: the background colour appears (without "#") only with fit=pad.
  await dlg.getByLabel("Preset", { exact: true }).selectOption("");
  assert.equal(await dlg.getByLabel("Background (pad)").isVisible(), false);
  await dlg.getByLabel("Fit", { exact: true }).selectOption("pad");
  await dlg.getByLabel("Background (pad)").fill("#00ff00");
  const padded = `${origin}/${st.account}/image/gallery/c.png?w=200&h=100&fit=pad&bg=00ff00&f=png&q=70`;
  assert.equal(await url.inputValue(), padded);
  res = await fetch(padded, { headers: { authorization: `Bearer ${st.secret}` } });
  assert.equal(res.status, 200);
  assert.deepEqual(pngSize(Buffer.from(await res.arrayBuffer())), { w: 200, h: 100 });
  // A value the server refuses: its §8 message where the image would be.
  await dlg.getByLabel("Width", { exact: true }).fill("9000");
  const alert = dlg.locator(".tb-preview [role=alert]");
  await alert.waitFor();
  assert.match(await alert.innerText(), /\bw\b/);
  await dlg.getByRole("button", { name: "Close" }).first().click();
});

test("details: the dimensions of an image Chromium cannot show (TIFF), through /image", async () => {
  await signIn(page, st, st.secret, "#/files?path=/scans");
  await page.getByRole("button", { name: "Details of page.tiff" }).click();
  const dlg = page.getByRole("dialog");
  await dlg.getByText("64 × 48 px").waitFor();
  assert.match(await dlg.locator(".preview img").first().getAttribute("src"), /\/image\/scans\/page\.tiff\?f=webp$/);
  await dlg.getByRole("button", { name: "Close" }).first().click();
});

test("bulk move: per-file errors, the rest moved (checked through the API); bulk copy", async () => {
  await signIn(page, st, st.secret, "#/files?path=/bulk");
  await page.getByRole("button", { name: "List", exact: true }).click();
  await page.getByRole("checkbox", { name: "Select x1.txt" }).check();
  await page.getByRole("checkbox", { name: "Select x2.txt" }).check();
  await page.getByText("2 selected").waitFor();
  await shots(page, "34-selection-bar");
  await page.getByRole("button", { name: "Move to…" }).click();
  const dlg = page.getByRole("dialog", { name: "Move to a folder" });
  await dlg.getByLabel("Destination folder").fill("/dest");
  await dlg.getByRole("button", { name: "Move 2 files" }).click();
  await dlg.getByText("Moved 1 of 2 files to /dest.").waitFor();
  const failed = await dlg.getByRole("list", { name: "Files not moved" }).innerText();
  assert.match(failed, /^x2\.txt: /);
  await shots(page, "35-move-errors");
  // Through the API: x1 moved (same bytes), x2 stayed, the old /dest/x2 untouched.
  const raw = async (p) => { const r = await fetch(`${st.url}/${st.account}/raw${p}`); return [r.status, r.status === 200 ? await r.text() : null]; };
  assert.deepEqual(await raw("/dest/x1.txt"), [200, "x1"]);
  assert.deepEqual(await raw("/bulk/x1.txt"), [404, null]);
  assert.deepEqual(await raw("/bulk/x2.txt"), [200, "x2"]);
  assert.deepEqual(await raw("/dest/x2.txt"), [200, "already here"]);
  // The listing was refreshed.
  await until(page, () => !document.querySelector('[aria-label="Details of x1.txt"]'), null, "x1.txt gone from the listing");
  // Again, only the one that failed, replacing the file there.
  await dlg.getByLabel("Replace files that already exist there").check();
  await dlg.getByRole("button", { name: "Move 1 file again" }).click();
  await page.getByText("Moved 1 file to /dest.").waitFor();
  assert.deepEqual(await raw("/dest/x2.txt"), [200, "x2"]);
  assert.deepEqual(await raw("/bulk/x2.txt"), [404, null]);
  // Copy: both paths afterwards.
  await page.getByRole("checkbox", { name: "Select y.txt" }).check();
  await page.getByRole("button", { name: "Copy to…" }).click();
  const cdlg = page.getByRole("dialog", { name: "Copy to a folder" });
  await cdlg.getByLabel("Destination folder").fill("dest/sub/");
  await cdlg.getByRole("button", { name: "Copy 1 file" }).click();
  await page.getByText("Copied 1 file to /dest/sub.").waitFor();
  assert.deepEqual(await raw("/dest/sub/y.txt"), [200, "y"]);
  assert.deepEqual(await raw("/bulk/y.txt"), [200, "y"]);
});

test("upload rows show the speed (smoothed) and the time left", async () => {
  await signIn(page, st, st.secret, "#/files?path=/");
  // The meter with a fake clock: 1 MiB in 0.5 s, then 1 MiB in 1 s.
  const texts = await page.evaluate(() => {
    let t = 0;
    const m = window.stowageDash.rateMeter(() => t);
    const MiB = 1024 * 1024;
    m.add(0);
    t = 500; m.add(MiB);
    const first = window.stowageDash.progressText(MiB, 10 * MiB, m.rate);
    t = 1500; m.add(2 * MiB);
    return [first, m.rate, window.stowageDash.progressText(0, 10 * MiB, null)];
  });
  assert.equal(texts[0], "10% · 1.0 MB of 10.0 MB · 2.0 MB/s · 5 s left");
  // 2 MiB/s smoothed towards 1 MiB/s with weight 1 − e^(−1/3).
  const w = 1 - Math.exp(-1 / 3);
  assert.ok(Math.abs(texts[1] - (2 + w * (1 - 2)) * 1024 * 1024) < 1, String(texts[1]));
  assert.equal(texts[2], "0% · 0 B of 10.0 MB");
  // A real upload at 2 MiB/s (Chromium's network throttling): the row says so.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
  const seen = new Set();
  let shot = false;
  const body = Buffer.alloc(6 * 1024 * 1024, 7);
  await page.getByLabel("Upload files").setInputFiles({ name: "slow.bin", mimeType: "application/octet-stream", buffer: body });
  const meta = page.locator('.uploads li[data-path="/slow.bin"] .u-meta');
  for (let i = 0; i < 60 && !(await page.locator('.uploads li[data-path="/slow.bin"][data-done]').count()); i++) {
    const t = await meta.innerText();
    seen.add(t);
    if (!shot && / left$/.test(t)) { shot = true; await shots(page, "36-upload-speed"); }
    await page.waitForTimeout(100);
  }
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const withRate = [...seen].filter((t) => /\d% · .* of 6\.0 MB · [\d.]+ [KM]B\/s · \d+ s left$/.test(t));
  assert.ok(withRate.length > 0, [...seen].join(" | "));
});
