// The real @imagekit/nodejs client against stowage's ImageKit-compatible routes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import ImageKit, { toFile } from "@imagekit/nodejs";
import { startStowage, api } from "./harness.mjs";

let st, signing;
before(async () => {
  st = await startStowage();
  const res = await api(st, "POST", "/signing_keys", { name: "imagekit-test" });
  assert.equal(res.status, 201);
  signing = res.json; // { kid, secret }
});
after(async () => st && (await st.stop()));

const body = (text) => toFile(Buffer.from(text), "photo.png", { type: "image/png" });
const noAuth = { headers: { Authorization: null } };

/** A V2 token: HS256 over every form field but file and token (hand-built with node:crypto). */
function v2Token(fields, kid, secret) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: "HS256", typ: "JWT", kid });
  const payload = b64({ ...fields, iat: now, exp: now + 600 });
  const sig = createHmac("sha256", secret).update(`${head}.${payload}`).digest("base64url");
  return `${head}.${payload}.${sig}`;
}

test("files.upload (V1) and beta.v2.files.upload (V2) with a secret key", async () => {
  const client = new ImageKit({ privateKey: st.secret, baseURL: st.url });
  const v1 = await client.files.upload({ file: await body("v1 bytes"), fileName: "v1.png", folder: "/ik" });
  assert.match(v1.filePath, /^\/ik\/v1_\w+\.png$/);
  assert.equal(v1.size, 8);
  assert.equal(await (await fetch(v1.url)).text(), "v1 bytes");
  const v2 = await client.beta.v2.files.upload({ file: await body("v2 bytes"), fileName: "v2.png", folder: "/ik" });
  assert.match(v2.filePath, /^\/ik\/v2_\w+\.png$/);
  assert.equal(await (await fetch(v2.url)).text(), "v2 bytes");
});

test("a V2 client-side upload with a signed token works once", async () => {
  const client = new ImageKit({ privateKey: "unused", baseURL: st.url });
  const fields = { fileName: "client.png", folder: "/client", useUniqueFileName: "false" };
  const token = v2Token(fields, signing.kid, signing.secret);
  const res = await client.beta.v2.files.upload({ file: await body("client"), ...fields, useUniqueFileName: false, token }, noAuth);
  assert.equal(res.filePath, "/client/client.png");
  assert.equal(await (await fetch(res.url)).text(), "client");
  await assert.rejects(
    client.beta.v2.files.upload({ file: await body("again"), ...fields, useUniqueFileName: false, token }, noAuth),
    (e) => e.status === 401 && typeof e.error?.message === "string",
  );
});

test("a V1 client-side upload with helper.getAuthenticationParameters works once", async () => {
  // The helper signs with the client's privateKey: here, the signing key's secret.
  const signer = new ImageKit({ privateKey: signing.secret, baseURL: st.url });
  const auth = signer.helper.getAuthenticationParameters(randomUUID());
  const client = new ImageKit({ privateKey: "unused", baseURL: st.url });
  const params = { fileName: "browser.png", publicKey: signing.kid, ...auth };
  const res = await client.files.upload({ file: await body("browser"), ...params }, noAuth);
  assert.match(res.filePath, /^\/browser_\w+\.png$/);
  assert.equal(await (await fetch(res.url)).text(), "browser");
  await assert.rejects(
    client.files.upload({ file: await body("replay"), ...params }, noAuth),
    (e) => e.status === 401,
  );
});
