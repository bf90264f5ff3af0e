// Writes a W×H JPEG drawn by headless Chromium (gradients, shapes and noise,
// so it compresses like a photo): node bench/make-jpeg.mjs W H OUT
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const [w, h, out] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const profile = mkdtempSync(join(tmpdir(), "bench-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const page = await ctx.newPage();
const b64 = await page.evaluate(async ([w, h]) => {
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext("2d");
  const grad = g.createLinearGradient(0, 0, w, h);
  grad.addColorStop(0, "#2a6"); grad.addColorStop(0.5, "#fc3"); grad.addColorStop(1, "#35c");
  g.fillStyle = grad; g.fillRect(0, 0, w, h);
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 3000; i++) {
    g.fillStyle = `hsla(${rnd() * 360},70%,50%,0.35)`;
    g.beginPath(); g.arc(rnd() * w, rnd() * h, 5 + rnd() * w / 20, 0, 7); g.fill();
  }
  const tile = g.createImageData(256, 256);
  for (let i = 0; i < tile.data.length; i++) tile.data[i] = i % 4 === 3 ? 40 : rnd() * 255;
  const t = new OffscreenCanvas(256, 256); t.getContext("2d").putImageData(tile, 0, 0);
  g.fillStyle = g.createPattern(t, "repeat"); g.fillRect(0, 0, w, h);
  const blob = await c.convertToBlob({ type: "image/jpeg", quality: 0.9 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}, [w, h]);
writeFileSync(out, Buffer.from(b64, "base64"));
await ctx.close();
rmSync(profile, { recursive: true, force: true });
