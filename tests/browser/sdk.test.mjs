// The real @bytescale/sdk (Node build) against stowage: UploadManager, FileApi,
// FolderApi and error mapping.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import * as Bytescale from "@bytescale/sdk";
import { startStowage } from "./harness.mjs";

let st;
let config;
before(async () => {
  st = await startStowage();
  config = { apiKey: st.secret, apiUrl: st.url, cdnUrl: st.url, fetchApi: fetch };
});
after(async () => st && (await st.stop()));

const sha = (b) => createHash("sha256").update(b).digest("hex");
async function download(filePath) {
  const res = await fetch(`${st.url}/${st.account}/raw${filePath}`);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

const PART = 8 * 1024 * 1024;
function composite(data) {
  const h = createHash("sha256");
  let n = 0;
  for (let i = 0; i < data.length; i += PART, n++) {
    h.update(createHash("sha256").update(data.subarray(i, i + PART)).digest());
  }
  return `${h.digest("hex")}-${n}`;
}

test("UploadManager: 0 bytes, 1 byte, 20 MiB in parallel parts", async () => {
  const uploads = new Bytescale.UploadManager(config);
  for (const size of [0, 1, 20 * 1024 * 1024 + 7]) {
    const data = Buffer.alloc(size, 0).map((_, i) => (i * 31) % 251);
    const result = await uploads.upload({
      data,
      mime: "application/octet-stream",
      originalFileName: `f${size}.bin`,
      path: { folderPath: "/sdk/{UTC_YEAR}", fileName: "f{UNIQUE_DIGITS_6}{ORIGINAL_FILE_EXT}" },
      metadata: { size },
      tags: ["sdk"],
    });
    assert.match(result.filePath, /^\/sdk\/\d{4}\/f\d{6}\.bin$/);
    assert.equal(result.accountId, st.account);
    // One part: the file's SHA-256. Several parts go straight into the store's
    // object, and the etag is the S3-style composite of the parts' SHA-256s.
    assert.equal(result.etag, size <= PART ? sha(data) : composite(data));
    assert.equal(result.fileUrl, `${st.url}/${st.account}/raw${result.filePath}`);
    const back = await download(result.filePath);
    assert.equal(back.status, 200);
    assert.equal(sha(back.bytes), sha(data));
  }
});

test("UploadManager: a Node stream with a declared size", async () => {
  const uploads = new Bytescale.UploadManager(config);
  const chunks = Array.from({ length: 12 }, (_, i) => Buffer.alloc(1024 * 1024, i));
  const all = Buffer.concat(chunks);
  const result = await uploads.upload({
    data: Readable.from(chunks),
    size: all.length,
    mime: "application/octet-stream",
    path: { folderPath: "/sdk", fileName: "stream.bin" },
  });
  assert.equal(result.filePath, "/sdk/stream.bin");
  assert.equal(sha((await download("/sdk/stream.bin")).bytes), sha(all));
});

test("FileApi: details, copy, download, delete", async () => {
  const uploads = new Bytescale.UploadManager(config);
  await uploads.upload({ data: "hello file api", mime: "text/plain", originalFileName: "h.txt", path: { folderPath: "/files", fileName: "h.txt" } });
  const files = new Bytescale.FileApi(config);
  const details = await files.getFileDetails({ accountId: st.account, filePath: "/files/h.txt" });
  assert.equal(details.size, 14);
  assert.equal(details.mime, "text/plain");
  assert.equal(details.originalFileName, "h.txt");
  const copied = await files.copyFile({ accountId: st.account, copyFileRequest: { source: "/files/h.txt", destination: "/files/copy.txt" } });
  assert.equal(copied.status, "Copied");
  const res = await files.downloadFile({ accountId: st.account, filePath: "/files/copy.txt" });
  assert.equal(await res.text(), "hello file api");
  await files.deleteFile({ accountId: st.account, filePath: "/files/copy.txt" });
  assert.equal((await download("/files/copy.txt")).status, 404);
});

test("FolderApi: putFolder, getFolderDetails, listFolder", async () => {
  const folders = new Bytescale.FolderApi(config);
  const put = await folders.putFolder({
    accountId: st.account,
    putFolderRequest: {
      folderPath: "/private",
      folderSettings: { description: { set: true, value: "Private stuff" }, publicPermissions: { set: true, value: [] }, storageLayer: { set: false } },
    },
  });
  assert.equal(put.folderPath, "/private");
  assert.deepEqual(put.settings.publicPermissions, []);
  const uploads = new Bytescale.UploadManager(config);
  await uploads.upload({ data: "secret", mime: "text/plain", path: { folderPath: "/private", fileName: "p.txt" } });
  assert.equal((await download("/private/p.txt")).status, 401);
  const details = await folders.getFolderDetails({ accountId: st.account, folderPath: "/private" });
  assert.equal(details.settings.description, "Private stuff");
  const list = await folders.listFolder({ accountId: st.account, folderPath: "/private", recursive: true, includeFiles: true, limit: 50 });
  assert.equal(list.isPaginationComplete, true);
  assert.deepEqual(list.items.map((i) => i.filePath ?? i.folderPath), ["/private/p.txt"]);
});

test("errors arrive as BytescaleApiError with the server's code", async () => {
  const files = new Bytescale.FileApi(config);
  await assert.rejects(
    files.getFileDetails({ accountId: st.account, filePath: "/nope.txt" }),
    (e) => e instanceof Bytescale.BytescaleApiError && e.errorCode === "file_not_found",
  );
  const publicUploads = new Bytescale.UploadManager({ ...config, apiKey: st.public });
  await publicUploads.upload({ data: "one", mime: "text/plain", path: { folderPath: "/e", fileName: "x.txt" } });
  await assert.rejects(
    publicUploads.upload({ data: "two", mime: "text/plain", path: { folderPath: "/e", fileName: "x.txt" } }),
    (e) => e instanceof Bytescale.BytescaleApiError && e.errorCode === "file_already_exists" && /already exists/.test(e.message),
  );
});
