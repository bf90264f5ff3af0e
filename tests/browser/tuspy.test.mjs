// tuspy (PyPI, the Python tus client of record) against stowage: a whole
// upload, and one resumed by a second uploader that knows only the URL.
// Needs `python3 -m pip install tuspy` (.ci/run installs it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { startStowage } from "./harness.mjs";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "../clients/tuspy_upload.py");
let st, dir;

before(async () => {
  st = await startStowage();
  dir = mkdtempSync(join(tmpdir(), "stowage-tuspy-"));
});
after(async () => {
  await st?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tuspy(file, filePath, chunk, resumeAfter) {
  const args = [SCRIPT, `${st.url}/v2/accounts/${st.account}/tus`, st.secret, file, filePath, String(chunk)];
  if (resumeAfter) args.push(String(resumeAfter));
  const r = spawnSync("python3", args, { encoding: "utf8" });
  assert.equal(r.status, 0, `tuspy failed:\n${r.stderr}`);
  return r.stdout.trim();
}

async function readBack(filePath) {
  const res = await fetch(`${st.url}/${st.account}/raw${filePath}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

const sha = (b) => createHash("sha256").update(b).digest("hex");

test("tuspy uploads 6 MiB in 1 MiB chunks; the bytes and the etag match", async () => {
  const bytes = randomBytes(6 * 1024 * 1024 + 123);
  const file = join(dir, "six.bin");
  writeFileSync(file, bytes);
  const url = tuspy(file, "/py/six.bin", 1024 * 1024);
  assert.match(url, new RegExp(`/v2/accounts/${st.account}/tus/[0-9a-f]+$`));
  const back = await readBack("/py/six.bin");
  assert.equal(back.length, bytes.length);
  assert.equal(sha(back), sha(bytes));
  const details = await fetch(`${st.url}/v2/accounts/${st.account}/files/details?filePath=/py/six.bin`, {
    headers: { authorization: `Bearer ${st.secret}` },
  }).then((r) => r.json());
  assert.equal(details.etag, sha(bytes));
});

test("tuspy resumes an upload from its URL after 3 chunks", async () => {
  const bytes = randomBytes(5 * 1024 * 1024 + 7);
  const file = join(dir, "resumed.bin");
  writeFileSync(file, bytes);
  tuspy(file, "/py/resumed.bin", 1024 * 1024, 3);
  assert.equal(sha(await readBack("/py/resumed.bin")), sha(bytes));
});
