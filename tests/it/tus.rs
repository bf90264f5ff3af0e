//! tus 1.0 (SPEC §5.6) with raw requests: every status the protocol uses,
//! ownership, expiry, checksums, resumption after a cut body, upload tokens,
//! and an upload continued on another node.

use crate::both;
use crate::common::{sha256_hex, Backend, Options, TestApp};
use base64::Engine;
use reqwest::{Method, Response};
use serde_json::Value;
use stowage::auth::keys::KeyType;

pub fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32) as u8
        })
        .collect()
}

pub fn h<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `POST …/tus` with `key`, `Upload-Length` and metadata pairs.
async fn create(app: &TestApp, key: &str, len: u64, meta: &[(&str, &str)]) -> Response {
    let metadata: Vec<String> = meta
        .iter()
        .map(|(k, v)| format!("{k} {}", b64(v.as_bytes())))
        .collect();
    app.client
        .post(app.api("/tus"))
        .bearer_auth(key)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", len.to_string())
        .header("upload-metadata", metadata.join(","))
        .send()
        .await
        .unwrap()
}

pub async fn create_ok(app: &TestApp, key: &str, len: u64, meta: &[(&str, &str)]) -> String {
    let r = create(app, key, len, meta).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let loc = h(&r, "location").to_string();
    assert!(loc.starts_with(&app.api("/tus/")), "{loc}");
    loc
}

pub async fn patch(app: &TestApp, key: &str, url: &str, offset: u64, body: Vec<u8>) -> Response {
    patch_with(app, url, offset, None, body, key).await
}

/// A PATCH with one more header (`Upload-Checksum`, `Content-Digest`).
async fn patch_with(
    app: &TestApp,
    url: &str,
    offset: u64,
    extra: Option<(&str, String)>,
    body: Vec<u8>,
    key: &str,
) -> Response {
    let mut req = app
        .client
        .patch(url)
        .bearer_auth(key)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream");
    if let Some((name, value)) = extra {
        req = req.header(name, value);
    }
    req.body(body).send().await.unwrap()
}

async fn req(app: &TestApp, method: Method, key: &str, url: &str) -> Response {
    app.client
        .request(method, url)
        .bearer_auth(key)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap()
}

pub async fn offset_of(app: &TestApp, key: &str, url: &str) -> u64 {
    let r = req(app, Method::HEAD, key, url).await;
    assert_eq!(r.status(), 200);
    h(&r, "upload-offset").parse().unwrap()
}

async fn protocol(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // OPTIONS: no Tus-Resumable needed.
    let r = app
        .client
        .request(Method::OPTIONS, app.api("/tus"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "tus-version"), "1.0.0");
    assert_eq!(
        h(&r, "tus-extension"),
        "creation,creation-with-upload,termination,checksum,expiration"
    );
    assert_eq!(h(&r, "tus-checksum-algorithm"), "sha1,sha256");
    let max = app.state.config.max_file_size;
    assert_eq!(h(&r, "tus-max-size"), max.to_string());
    // Tus-Resumable is required everywhere else.
    let r = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("upload-length", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(h(&r, "tus-version"), "1.0.0");
    assert_eq!(h(&r, "tus-resumable"), "1.0.0");
    // Over the account's limit → 413 at creation; no credential → 401.
    let r = create(&app, &app.secret, max + 1, &[]).await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "file_too_large");
    assert_eq!(create(&app, "", 3, &[]).await.status(), 401);
    // Bad metadata → 400; metadata over 64 KiB → 413 field_too_large.
    let r = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "3")
        .header("upload-metadata", "filename !!notbase64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "x".repeat(70 * 1024);
    let r = create(&app, &app.secret, 3, &[("metadata", &big)]).await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "field_too_large");
}
both!(protocol);

async fn chunks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A whole upload in three chunks.
    let bytes = data(300_000, 3);
    let url = create_ok(
        &app,
        &app.secret,
        bytes.len() as u64,
        &[
            ("filePath", "/tus/a.bin"),
            ("filename", "orig.bin"),
            ("filetype", "application/x-test"),
            ("metadata", r#"{"user":42}"#),
            ("tags", "one, two"),
        ],
    )
    .await;
    let r = req(&app, Method::HEAD, &app.secret, &url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "upload-offset"), "0");
    assert_eq!(h(&r, "upload-length"), "300000");
    assert_eq!(h(&r, "cache-control"), "no-store");
    assert!(httpdate::parse_http_date(h(&r, "upload-expires")).is_ok());
    assert!(h(&r, "upload-metadata").contains("filePath"));
    let r = patch(&app, &app.secret, &url, 0, bytes[..100_000].to_vec()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "upload-offset"), "100000");
    assert_eq!(h(&r, "tus-resumable"), "1.0.0");
    // Wrong offset → 409; wrong type → 415; past the length → 413, nothing kept.
    let r = patch(&app, &app.secret, &url, 5, bytes[5..10].to_vec()).await;
    assert_eq!(r.status(), 409);
    let r = app
        .client
        .patch(&url)
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "100000")
        .header("content-type", "application/octet-stream")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = patch(&app, &app.secret, &url, 100_000, vec![0u8; 200_001]).await;
    assert_eq!(r.status(), 413);
    // Refused before its body was read: the connection is not reused.
    assert_eq!(h(&r, "connection"), "close");
    assert_eq!(offset_of(&app, &app.secret, &url).await, 100_000);
    // File not visible before the last byte.
    assert_eq!(app.get_bytes("/tus/a.bin").await.0, 404);
    let r = patch(
        &app,
        &app.secret,
        &url,
        100_000,
        bytes[100_000..200_000].to_vec(),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = patch(&app, &app.secret, &url, 200_000, bytes[200_000..].to_vec()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "upload-offset"), "300000");
    assert_eq!(h(&r, "upload-file-path"), "/tus/a.bin");
    assert_eq!(h(&r, "upload-file-url"), app.raw("/tus/a.bin"));
    let r = req(&app, Method::HEAD, &app.secret, &url).await;
    assert_eq!(h(&r, "upload-file-path"), "/tus/a.bin");
    assert_eq!(h(&r, "upload-offset"), "300000");
    let (status, got) = app.get_bytes("/tus/a.bin").await;
    assert_eq!(status, 200);
    assert!(got == bytes, "stored bytes differ");
    check_details(&app, &bytes).await;
    // A retried last PATCH is answered again; a PATCH at another offset is 409.
    let r = patch(&app, &app.secret, &url, 300_000, Vec::new()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "upload-file-path"), "/tus/a.bin");
    // Only the file's object is left.
    assert_eq!(app.blob_keys().await.len(), 1);
}
both!(chunks);

async fn check_details(app: &TestApp, bytes: &[u8]) {
    let details: Value = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/tus/a.bin")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(details["etag"], sha256_hex(bytes));
    assert_eq!(details["mime"], "application/x-test");
    assert_eq!(details["originalFileName"], "orig.bin");
    assert_eq!(details["metadata"]["user"], 42);
    assert_eq!(details["tags"], serde_json::json!(["one", "two"]));
}

async fn conflicts_and_creation_with_upload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.put("/taken.txt", b"old").await;
    // Public key (no overwrite): 409 at creation, unless a fallback is given.
    let r = create(&app, &app.public, 3, &[("filePath", "/taken.txt")]).await;
    assert_eq!(r.status(), 409);
    let url = create_ok(
        &app,
        &app.public,
        3,
        &[
            ("filePath", "/taken.txt"),
            ("fileNameFallback", "other.txt"),
        ],
    )
    .await;
    let r = patch(&app, &app.public, &url, 0, b"new".to_vec()).await;
    assert_eq!(h(&r, "upload-file-path"), "/other.txt");
    assert_eq!(app.get_bytes("/taken.txt").await.1, b"old");
    // creation-with-upload: the whole file in the POST.
    let r = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "5")
        .header("upload-metadata", format!("filePath {}", b64(b"/cwu.txt")))
        .header("content-type", "application/offset+octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(h(&r, "upload-offset"), "5");
    assert_eq!(h(&r, "upload-file-path"), "/cwu.txt");
    assert_eq!(app.get_bytes("/cwu.txt").await.1, b"hello");
    // A part of it, then the rest.
    let r = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .header("upload-metadata", format!("filePath {}", b64(b"/cwu2.txt")))
        .header("content-type", "application/offset+octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(h(&r, "upload-offset"), "5");
    let url = h(&r, "location").to_string();
    let r = patch(&app, &app.secret, &url, 5, b"world".to_vec()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(app.get_bytes("/cwu2.txt").await.1, b"helloworld");
    // A 0-byte upload is complete at creation.
    let r = create(&app, &app.secret, 0, &[("filePath", "/empty.txt")]).await;
    assert_eq!(r.status(), 201);
    assert_eq!(h(&r, "upload-file-path"), "/empty.txt");
    assert_eq!(
        app.get_bytes("/empty.txt").await,
        (reqwest::StatusCode::OK, vec![])
    );
}
both!(conflicts_and_creation_with_upload);

async fn checksum(backend: Backend) {
    use sha1::Digest;
    let app = TestApp::spawn(backend).await;
    let bytes = data(50_000, 7);
    let url = create_ok(&app, &app.secret, 50_000, &[("filePath", "/sum.bin")]).await;
    let send = |sum: String, body: Vec<u8>, offset: u64| {
        patch_with(
            &app,
            &url,
            offset,
            Some(("upload-checksum", sum)),
            body,
            &app.secret,
        )
    };
    let wrong = format!("sha256 {}", b64(&sha2::Sha256::digest(b"other")));
    let r = send(wrong, bytes[..20_000].to_vec(), 0).await;
    assert_eq!(r.status(), 460);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "checksum_mismatch");
    assert_eq!(
        offset_of(&app, &app.secret, &url).await,
        0,
        "chunk discarded"
    );
    let r = send("md5 AAAA".into(), bytes[..20_000].to_vec(), 0).await;
    assert_eq!(r.status(), 400);
    let good = format!("sha256 {}", b64(&sha2::Sha256::digest(&bytes[..20_000])));
    assert_eq!(send(good, bytes[..20_000].to_vec(), 0).await.status(), 204);
    let good = format!("sha1 {}", b64(&sha1::Sha1::digest(&bytes[20_000..])));
    let r = send(good, bytes[20_000..].to_vec(), 20_000).await;
    assert_eq!(r.status(), 204);
    assert!(app.get_bytes("/sum.bin").await.1 == bytes);
}
both!(checksum);

/// RFC 9530 `Content-Digest` over a PATCH's content (SPEC §5): a mismatch is
/// 400 `digest_mismatch` and the chunk is discarded; a match is kept.
async fn content_digest(backend: Backend) {
    use sha2::Digest;
    let app = TestApp::spawn(backend).await;
    let bytes = data(30_000, 9);
    let url = create_ok(&app, &app.secret, 30_000, &[("filePath", "/digest.bin")]).await;
    let send = |field: String, body: Vec<u8>, offset: u64| {
        patch_with(
            &app,
            &url,
            offset,
            Some(("content-digest", field)),
            body,
            &app.secret,
        )
    };
    let sha = |b: &[u8]| format!("sha-256=:{}:", b64(&sha2::Sha256::digest(b)));
    let r = send(sha(b"other"), bytes[..10_000].to_vec(), 0).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "digest_mismatch");
    assert_eq!(
        offset_of(&app, &app.secret, &url).await,
        0,
        "chunk discarded"
    );
    let r = send(sha(&bytes[..10_000]), bytes[..10_000].to_vec(), 0).await;
    assert_eq!(r.status(), 204);
    let r = send(sha(&bytes[10_000..]), bytes[10_000..].to_vec(), 10_000).await;
    assert_eq!(r.status(), 204);
    assert!(app.get_bytes("/digest.bin").await.1 == bytes);
}
both!(content_digest);

async fn ownership_and_termination(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = create_ok(&app, &app.secret, 100, &[("filePath", "/own.bin")]).await;
    assert_eq!(
        patch(&app, &app.secret, &url, 0, vec![1; 40])
            .await
            .status(),
        204
    );
    let other = app.key(KeyType::Secret, &[]).await;
    let unknown = format!("{}/{}", app.api("/tus"), "0123456789abcdef0123456789abcdef");
    let unknown_body = req(&app, Method::DELETE, &other, &unknown).await;
    assert_eq!(unknown_body.status(), 404);
    let unknown_body = unknown_body.text().await.unwrap();
    for method in [Method::HEAD, Method::DELETE] {
        let r = req(&app, method.clone(), &other, &url).await;
        assert_eq!(r.status(), 404, "{method}");
        if method != Method::HEAD {
            assert_eq!(r.text().await.unwrap(), unknown_body);
        }
    }
    let r = patch(&app, &other, &url, 40, vec![1; 10]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), unknown_body);
    let r = patch(&app, &other, &unknown, 40, vec![1; 10]).await;
    assert_eq!(r.text().await.unwrap(), unknown_body);
    assert_eq!(offset_of(&app, &app.secret, &url).await, 40);
    // Termination removes the bytes.
    assert!(!app.blob_keys().await.is_empty());
    let r = req(&app, Method::DELETE, &app.secret, &url).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        req(&app, Method::HEAD, &app.secret, &url).await.status(),
        404
    );
    assert_eq!(app.blob_keys().await, Vec::<String>::new());
    assert_eq!(app.get_bytes("/own.bin").await.0, 404);
}
both!(ownership_and_termination);

async fn expiry(backend: Backend) {
    let opts = Options {
        abandoned_upload_ttl: 1,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, opts).await;
    // Bigger than a part so a native store holds a part and a tail.
    let bytes = data(6 * 1024 * 1024 + 10, 1);
    let url = create_ok(
        &app,
        &app.secret,
        bytes.len() as u64 + 1,
        &[("filePath", "/x.bin")],
    )
    .await;
    assert_eq!(patch(&app, &app.secret, &url, 0, bytes).await.status(), 204);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = req(&app, Method::HEAD, &app.secret, &url).await;
    assert_eq!(r.status(), 410);
    let r = patch(&app, &app.secret, &url, 6 * 1024 * 1024 + 10, vec![1]).await;
    assert_eq!(r.status(), 410);
    let n = stowage::domain::tus::sweep_expired(&app.state)
        .await
        .unwrap();
    assert_eq!(n, 1);
    stowage::domain::sweeper::sweep_once(&app.state).await;
    assert_eq!(app.blob_keys().await, Vec::<String>::new());
    assert_eq!(
        req(&app, Method::HEAD, &app.secret, &url).await.status(),
        404
    );
    assert_eq!(app.get_bytes("/x.bin").await.0, 404);
}
both!(expiry);

/// A PATCH whose body stops half way: the bytes that arrived are kept, HEAD
/// says how many, and the client resumes from there.
async fn cut_body_resumes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bytes = data(200_000, 9);
    let url = create_ok(&app, &app.secret, 200_000, &[("filePath", "/cut.bin")]).await;
    let path = url.trim_start_matches(&app.url).to_string();
    let mut request = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n\
         Content-Length: 200000\r\n\r\n",
        app.secret
    )
    .into_bytes();
    request.extend_from_slice(&bytes[..120_000]);
    {
        use tokio::io::AsyncWriteExt;
        let addr = app.url.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&request).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    } // dropped: the connection closes mid-body
    let mut offset = 0;
    TestApp::eventually(std::time::Duration::from_secs(5), "cut PATCH saved", || {
        let (app, url) = (&app, &url);
        async move {
            let r = req(app, Method::HEAD, &app.secret, url).await;
            h(&r, "upload-offset") == "120000"
        }
    })
    .await;
    offset += offset_of(&app, &app.secret, &url).await;
    assert_eq!(offset, 120_000);
    let r = patch(
        &app,
        &app.secret,
        &url,
        offset,
        bytes[offset as usize..].to_vec(),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(app.get_bytes("/cut.bin").await.1 == bytes);
}
both!(cut_body_resumes);

async fn upload_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let issue = || async {
        let t: Value = app
            .client
            .post(app.api("/upload_tokens"))
            .bearer_auth(&app.secret)
            .json(&serde_json::json!({"path": "/tok/a.bin"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        t["token"].as_str().unwrap().to_string()
    };
    let token = issue().await;
    // Another path than the token's → 403 path_mismatch, token not spent.
    let r = create(&app, &token, 4, &[("filePath", "/elsewhere.bin")]).await;
    assert_eq!(r.status(), 403);
    let url = create_ok(&app, &token, 8, &[("filename", "a.bin")]).await;
    // The spent token continues its own upload.
    assert_eq!(
        patch(&app, &token, &url, 0, b"abcd".to_vec())
            .await
            .status(),
        204
    );
    assert_eq!(offset_of(&app, &token, &url).await, 4);
    // …but creates nothing more.
    let r = create(&app, &token, 4, &[]).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "token_already_used");
    // Another token (even for the same path) does not see the upload.
    let other = issue().await;
    assert_eq!(req(&app, Method::HEAD, &other, &url).await.status(), 404);
    assert_eq!(
        req(&app, Method::HEAD, &app.secret, &url).await.status(),
        404
    );
    let r = patch(&app, &token, &url, 4, b"efgh".to_vec()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "upload-file-path"), "/tok/a.bin");
    assert_eq!(app.get_bytes("/tok/a.bin").await.1, b"abcdefgh");
    // The spent token still works nowhere else.
    assert_eq!(app.upload(&token, "/tok/a.bin", "x").await.status(), 401);
}
both!(upload_token);

/// Begun on one node, finished on another (the row and the store's
/// multipart upload are shared); with S3 parts of 5 MiB and a tail.
async fn two_nodes(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_peer().await;
    let bytes = data(12 * 1024 * 1024 + 123, 5);
    let url = create_ok(
        &a,
        &a.secret,
        bytes.len() as u64,
        &[("filePath", "/two.bin")],
    )
    .await;
    let cut = 7 * 1024 * 1024 + 1;
    assert_eq!(
        patch(&a, &a.secret, &url, 0, bytes[..cut].to_vec())
            .await
            .status(),
        204
    );
    let url_b = url.replace(&a.url, &b.url);
    assert_eq!(offset_of(&b, &b.secret, &url_b).await, cut as u64);
    let r = patch(&b, &b.secret, &url_b, cut as u64, bytes[cut..].to_vec()).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (status, got) = a.get_bytes("/two.bin").await;
    assert_eq!(status, 200);
    assert!(got == bytes, "bytes differ");
    // Nothing but the file's object is left (tails removed).
    assert_eq!(a.blob_keys().await.len(), 1);
}
both!(two_nodes);
