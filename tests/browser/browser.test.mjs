// Browsers as the clients of record, in headless Debian Chromium: a plain HTML
// form, the AuthManager cookie session behind <img> tags, Uppy's xhr-upload,
// and the Bytescale upload widget. Pages are served from another 127.0.0.1 port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startStowage, startPages, launchChromium, rsaSigner, api, PNG, ARTIFACTS } from "./harness.mjs";

let st, pages, browser, signer, kid;
const now = () => Math.floor(Date.now() / 1000);
const claims = (over = {}) => ({
  sub: "user-1", iat: now() - 5, exp: now() + 600, accountId: st.account,
  access: { pathPermissions: [{ match: { path: "/private", scope: "Children" }, permissions: { read: { file: { downloadFile: ["*"] } } } }] },
  ...over,
});

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  signer = rsaSigner();
  let authToken = () => signer.jwt(claims(), kid);
  pages = await startPages({
    // The app's auth URL: a JWT as text/plain (what AuthManager expects).
    "/auth": (req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(authToken()),
    "/auth-expired": (req, res) =>
      res.writeHead(200, { "content-type": "text/plain" }).end(signer.jwt(claims({ iat: now() - 900, exp: now() - 300 }), kid)),
    "/form.html": (req, res) => {
      const action = `${st.url}/v2/accounts/${st.account}/uploads/form_data?apiKey=${st.public}&folderPath=/forms`;
      res.writeHead(200, { "content-type": "text/html" }).end(
        `<!doctype html><form method="post" enctype="multipart/form-data" action="${action}">
           <input type="file" name="photo"><button type="submit">Upload</button></form>`,
      );
    },
    "/blank.html": (req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>blank</title><body></body>"),
  });
  st = await startStowage({ allowedOrigins: pages.origin });
  kid = (await api(st, "POST", "/jwt_keys", { pem: signer.pem })).json.kid;
  for (const path of ["/private/x.png", "/public/y.png"]) {
    const res = await fetch(`${st.url}/v2/accounts/${st.account}/uploads/binary?filePath=${path}`, {
      method: "POST", headers: { authorization: `Bearer ${st.secret}`, "content-type": "image/png" }, body: PNG,
    });
    assert.equal(res.status, 200);
  }
  const priv = await api(st, "PUT", "/folders", { folderPath: "/private", folderSettings: { publicPermissions: { set: true, value: [] } } });
  assert.equal(priv.status, 200);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await st?.stop();
  await pages?.close();
});

async function newPage() {
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/blank.html`);
  return page;
}

/** naturalWidth of an <img> with this src, once it loads or fails. */
const imgWidth = (page, src) =>
  page.evaluate(async (src) => {
    const img = document.createElement("img");
    document.body.appendChild(img);
    await new Promise((r) => { img.onload = img.onerror = r; img.src = src; });
    return img.naturalWidth;
  }, src);

test("a plain HTML form uploads to /uploads/form_data", async () => {
  const page = await browser.context.newPage();
  await page.goto(`${pages.origin}/form.html`);
  await page.setInputFiles("input[type=file]", { name: "cat.png", mimeType: "image/png", buffer: PNG });
  await Promise.all([page.waitForNavigation(), page.click("button")]);
  const body = JSON.parse(await page.evaluate(() => document.body.innerText));
  assert.equal(body.errors.length, 0);
  const file = body.files[0];
  assert.equal(file.formDataFieldName, "photo");
  assert.match(file.filePath, /^\/forms\/\d{8}\.png$/);
  const back = await fetch(file.fileUrl);
  assert.equal(back.headers.get("content-type"), "image/png");
  assert.deepEqual(Buffer.from(await back.arrayBuffer()), PNG);
  await page.close();
});

test("AuthManager session shows private <img> tags; ending it or an expired JWT does not", async () => {
  const page = await newPage();
  const cdn = st.url;
  const privateUrl = `${cdn}/${st.account}/raw/private/x.png?auth=true`;
  assert.equal(await imgWidth(page, privateUrl), 0, "no session yet");
  const sdk = "/node_modules/@bytescale/sdk/dist/browser/esm/main.mjs";
  const built = await page.evaluate(async ({ sdk, account, authUrl, cdn }) => {
    const { AuthManager, UrlBuilder } = await import(sdk);
    await AuthManager.beginAuthSession({ accountId: account, authUrl, authHeaders: async () => ({}), options: { cdnUrl: cdn } });
    for (let i = 0; i < 100 && !AuthManager.isAuthSessionReady(); i++) await new Promise((r) => setTimeout(r, 50));
    return { ready: AuthManager.isAuthSessionReady(), url: UrlBuilder.url({ accountId: account, filePath: "/private/x.png", options: { auth: true, cdnUrl: cdn } }) };
  }, { sdk, account: st.account, authUrl: `${pages.origin}/auth`, cdn });
  assert.equal(built.ready, true);
  assert.equal(built.url, `${cdn}/${st.account}/raw/private/x.png`);
  assert.equal(await imgWidth(page, privateUrl), 1, "seed-style URL with auth=true");
  assert.equal(await imgWidth(page, built.url), 1, "UrlBuilder's URL");
  await page.evaluate(async () => {
    const img = document.createElement("img");
    img.id = "shown";
    img.style.width = "64px";
    document.body.appendChild(img);
  });
  await page.evaluate((src) => { document.getElementById("shown").src = src; }, built.url);
  await page.waitForFunction(() => document.getElementById("shown").naturalWidth > 0);
  await page.screenshot({ path: join(ARTIFACTS, "cookie-session-private-img.png") });

  await page.evaluate(async (sdk) => {
    const { AuthManager } = await import(sdk);
    await AuthManager.endAuthSession();
  }, sdk);
  assert.equal(await imgWidth(page, `${built.url}?v=after-end`), 0, "after endAuthSession");

  // An expired JWT from the auth URL never becomes a session.
  const expired = await page.evaluate(async ({ sdk, account, authUrl, cdn }) => {
    const { AuthManager } = await import(sdk);
    try {
      await AuthManager.beginAuthSession({ accountId: account, authUrl, authHeaders: async () => ({}), options: { cdnUrl: cdn } });
    } catch (e) {}
    await new Promise((r) => setTimeout(r, 500));
    const ready = AuthManager.isAuthSessionReady();
    if (AuthManager.isAuthSessionActive()) await AuthManager.endAuthSession();
    return ready;
  }, { sdk, account: st.account, authUrl: `${pages.origin}/auth-expired`, cdn });
  assert.equal(expired, false);
  assert.equal(await imgWidth(page, `${built.url}?v=expired`), 0, "expired JWT");
  await page.close();
});

test("an expired session cookie does not break public images", async () => {
  const expired = signer.jwt(claims({ iat: now() - 900, exp: now() - 300 }), kid);
  await browser.context.addCookies([{ name: `access-token-${st.account}`, value: expired, url: `${st.url}/${st.account}/` }]);
  const page = await newPage();
  assert.equal(await imgWidth(page, `${st.url}/${st.account}/raw/public/y.png`), 1);
  assert.equal(await imgWidth(page, `${st.url}/${st.account}/raw/private/x.png`), 0);
  await browser.context.clearCookies();
  await page.close();
});

test("Uppy with @uppy/xhr-upload posts to the form route", async () => {
  const page = await newPage();
  const result = await page.evaluate(async ({ endpoint, key }) => {
    const { Uppy, XHRUpload } = await import("/node_modules/uppy/dist/uppy.min.mjs");
    const uppy = new Uppy().use(XHRUpload, { endpoint, fieldName: "file", formData: true, headers: { authorization: `Bearer ${key}` } });
    uppy.addFile({ name: "uppy.txt", type: "text/plain", data: new Blob(["from uppy"], { type: "text/plain" }) });
    const r = await uppy.upload();
    return { ok: r.successful.length, failed: r.failed.length, body: r.successful[0]?.response?.body };
  }, { endpoint: `${st.url}/v2/accounts/${st.account}/uploads/form_data?folderPath=/uppy`, key: st.public });
  assert.equal(result.failed, 0);
  assert.equal(result.ok, 1);
  const file = result.body.files[0];
  assert.match(file.filePath, /^\/uppy\/\d{8}\.txt$/);
  assert.equal(await (await fetch(file.fileUrl)).text(), "from uppy");
  await page.close();
});
