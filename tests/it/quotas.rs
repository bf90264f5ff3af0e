//! SPEC §12 quotas and usage: refused before the bytes when the size is
//! declared, at commit otherwise, exact under concurrency on one node and on
//! two; the usage row after uploads, overwrites, deletions and deduplication;
//! `recount`; the limits routes (admin only).

use crate::both;
use crate::common::{Backend, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use stowage::auth::keys::KeyType;
use stowage::meta::UsageRow;

async fn put_limits(app: &TestApp, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .put(app.api("/limits"))
        .bearer_auth(&app.secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

pub async fn usage(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(app.api("/usage"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `[files, versions, bytes, storedBytes]` of `GET …/usage`.
async fn counts(app: &TestApp) -> [i64; 4] {
    let u = usage(app).await;
    ["files", "versions", "bytes", "storedBytes"].map(|k| u[k].as_i64().unwrap())
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap()["error"].clone())
}

/// A declared size past maxStorageBytes (or a new file past maxFiles) is
/// refused before a byte of the body is read.
async fn refused_before_the_bytes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, _) = put_limits(&app, json!({"maxStorageBytes": 1000, "maxFiles": 1})).await;
    assert_eq!(s, 200);
    // 10 MB declared, 5 bytes sent: the answer cannot wait for the rest.
    let head = format!(
        "POST /v2/accounts/{}/uploads/binary?filePath=/big.bin HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 10000000\r\n\r\nhello",
        app.account, app.secret
    );
    let started = Instant::now();
    let answer = app.raw_http(head.as_bytes()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at once"
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"quota_exceeded\""), "{answer}");
    assert!(answer.contains("\"quota\":\"maxStorageBytes\""), "{answer}");
    assert!(answer.contains("maxStorageBytes quota"), "{answer}");
    // maxFiles: one file fits, a second is refused, an overwrite is not.
    app.put("/one.txt", b"1").await;
    let (status, e) = error_of(app.upload(&app.secret, "/two.txt", b"2".to_vec()).await).await;
    assert_eq!((status, e["code"].as_str()), (413, Some("quota_exceeded")));
    assert_eq!(e["details"]["quota"], "maxFiles");
    assert_eq!(e["details"]["limit"], 1);
    assert!(e["message"].as_str().unwrap().contains("maxFiles"));
    app.put("/one.txt", b"one again").await;
    assert_eq!(counts(&app).await, [1, 2, 10, 10]);
    assert_eq!(
        app.blob_keys().await.len(),
        2,
        "nothing of the refused uploads"
    );
}
both!(refused_before_the_bytes);

/// A chunked body (no declared size) is measured and refused at commit,
/// its bytes deleted.
async fn refused_at_commit_when_undeclared(b: Backend) {
    let app = TestApp::spawn(b).await;
    put_limits(&app, json!({"maxStorageBytes": 100})).await;
    let chunked = |n: usize| {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            (0..2).map(|_| Ok(vec![b'x'; n / 2])).collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let resp = app.upload(&app.secret, "/a.bin", chunked(60)).await;
    assert_eq!(resp.status(), 200);
    let (status, e) = error_of(app.upload(&app.secret, "/b.bin", chunked(60)).await).await;
    assert_eq!((status, e["code"].as_str()), (413, Some("quota_exceeded")));
    assert_eq!(e["details"]["used"], 60);
    assert_eq!(e["details"]["adding"], 60);
    assert_eq!(app.get_bytes("/b.bin").await.0, 404);
    assert_eq!(app.blob_keys().await.len(), 1, "the refused bytes are gone");
    assert_eq!(counts(&app).await, [1, 1, 60, 60]);
    // What fits still passes.
    let resp = app.upload(&app.secret, "/c.bin", chunked(40)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(counts(&app).await, [2, 2, 100, 100]);
}
both!(refused_at_commit_when_undeclared);

/// 30 uploads at once against maxFiles = 5, spread over `nodes`: exactly 5 pass.
async fn race(nodes: &[&TestApp]) {
    let app = nodes[0];
    put_limits(app, json!({"maxFiles": 5})).await;
    let uploads = (0..30).map(|i| {
        let node = nodes[i % nodes.len()];
        async move {
            let body = format!("file {i}").into_bytes();
            let resp = node
                .upload(&node.secret, &format!("/race/{i}.txt"), body)
                .await;
            let status = resp.status().as_u16();
            let code = resp.json::<Value>().await.unwrap()["error"]["code"].clone();
            (status, code)
        }
    });
    let results = futures::stream::iter(uploads)
        .buffer_unordered(30)
        .collect::<Vec<_>>()
        .await;
    let passed = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(passed, 5, "{results:?}");
    assert!(results
        .iter()
        .all(|(s, c)| *s == 200 || (*s == 413 && c == "quota_exceeded")));
    assert_eq!(counts(app).await[..2], [5, 5]);
    let row = app.state.meta.recount_usage(&app.account).await.unwrap();
    assert_eq!((row.files, row.versions), (5, 5), "the row was right");
    TestApp::eventually(Duration::from_secs(5), "refused bytes deleted", || async {
        app.blob_keys().await.len() == 5
    })
    .await;
}

async fn concurrent_uploads_never_pass_together(b: Backend) {
    let app = TestApp::spawn(b).await;
    race(&[&app]).await;
}
both!(concurrent_uploads_never_pass_together);

async fn concurrent_uploads_on_two_nodes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let peer = app.spawn_peer().await;
    race(&[&app, &peer]).await;
}
both!(concurrent_uploads_on_two_nodes);

/// The row after uploads, a duplicate, an overwrite, a copy and deletions
/// equals a recount at every step.
async fn usage_follows_every_change(b: Backend) {
    let app = TestApp::spawn(b).await;
    let step = |expected: [i64; 4]| {
        let app = &app;
        async move {
            assert_eq!(counts(app).await, expected);
            let recounted = app.state.meta.recount_usage(&app.account).await.unwrap();
            let [files, versions, bytes, stored_bytes] = expected;
            let want = UsageRow {
                files,
                versions,
                bytes,
                stored_bytes,
            };
            assert_eq!(recounted, want);
        }
    };
    step([0, 0, 0, 0]).await;
    app.put("/a.txt", b"0123456789").await;
    step([1, 1, 10, 10]).await;
    app.put("/b.txt", b"0123456789").await; // same bytes: stored once
    step([2, 2, 20, 10]).await;
    app.put("/a.txt", b"fresh").await; // a new version of /a.txt
    step([2, 3, 25, 15]).await;
    let resp = app
        .client
        .post(app.api("/files/copy"))
        .bearer_auth(&app.secret)
        .json(&json!({"source": "/a.txt", "destination": "/c.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    step([3, 4, 30, 15]).await;
    let delete = |path: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .delete(app.api("/files"))
                .query(&[("filePath", path)])
                .bearer_auth(&app.secret)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 204);
        }
    };
    delete("/b.txt").await; // its bytes live on in /a.txt's history
    step([2, 3, 20, 15]).await;
    delete("/a.txt").await;
    step([1, 1, 5, 5]).await;
    delete("/c.txt").await;
    step([0, 0, 0, 0]).await;
    let u = usage(&app).await;
    assert_eq!(
        u["limits"]["maxFiles"],
        Value::Null,
        "a live account: unlimited"
    );
    assert_eq!(u["limits"]["maxFileSize"], app.state.config.max_file_size);
}
both!(usage_follows_every_change);

/// A corrupted row is repaired by a recount; a missing one is rebuilt.
async fn recount_repairs_the_row(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/a.txt", b"abc").await;
    let wrong = UsageRow {
        files: 40,
        versions: -2,
        bytes: 7,
        stored_bytes: 1,
    };
    app.state
        .meta
        .set_usage_row(&app.account, wrong)
        .await
        .unwrap();
    assert_eq!(counts(&app).await, [40, -2, 7, 1], "usage reads the row");
    let fixed = app.state.meta.recount_usage(&app.account).await.unwrap();
    assert_eq!(counts(&app).await, [1, 1, 3, 3]);
    assert_eq!(fixed.files, 1);
    app.put("/b.txt", b"defg").await;
    assert_eq!(counts(&app).await, [2, 2, 7, 7], "and is kept from there");
}
both!(recount_repairs_the_row);

/// `GET|PUT …/limits` need admin; `GET …/usage` admin or list on the
/// account; sandbox accounts have the default quotas.
async fn limits_are_admin_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let reader = app
        .key(KeyType::Secret, &["/:list", "/*:read,create"])
        .await;
    for (method, url) in [("GET", "/limits"), ("PUT", "/limits")] {
        let req = app.client.request(method.parse().unwrap(), app.api(url));
        let resp = req
            .bearer_auth(&app.public)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {url} with a public key");
        let req = app.client.request(method.parse().unwrap(), app.api(url));
        let resp = req.json(&json!({})).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{method} {url} anonymous");
    }
    let resp = app
        .client
        .get(app.api("/usage"))
        .bearer_auth(&app.public)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .get(app.api("/usage"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "list on the whole account may see usage"
    );
    let body = json!({"maxFileSize": 5000, "allowedMime": "image/*",
                      "maxStorageBytes": 1_000_000, "maxFiles": 10});
    let (s, set) = put_limits(&app, body.clone()).await;
    assert_eq!((s, &set), (200, &body));
    let resp = app
        .client
        .get(app.api("/limits"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap(), body);
    assert_eq!(usage(&app).await["limits"], body);
    let (s, e) = put_limits(&app, json!({"maxFiles": -1})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (s, _) = put_limits(&app, json!({"maxFilez": 3})).await;
    assert_eq!(s, 400, "unknown fields are refused");
    let (s, cleared) = put_limits(&app, json!({})).await;
    assert_eq!(s, 200);
    assert!(
        cleared.as_object().unwrap().values().all(Value::is_null),
        "{cleared}"
    );
    // A sandbox account: 1 GiB and 10 000 files unless set.
    let sandbox = stowage::domain::keys::create_account(app.state.meta.as_ref(), true)
        .await
        .unwrap();
    let key = app.key_for(&sandbox.id, KeyType::Secret, &[]).await;
    let url = format!("{}/v2/accounts/{}/usage", app.url, sandbox.id);
    let resp = app.client.get(url).bearer_auth(&key).send().await.unwrap();
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["limits"]["maxFiles"], 10_000);
    assert_eq!(u["limits"]["maxStorageBytes"], 1024 * 1024 * 1024);
}
both!(limits_are_admin_only);

/// Multipart begin and tus creation declare their size: refused at once.
async fn sessions_are_refused_when_declared(b: Backend) {
    let app = TestApp::spawn(b).await;
    put_limits(&app, json!({"maxStorageBytes": 1000})).await;
    let resp = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": 5000, "protocol": "1.1", "path": "/mp/big.bin"}))
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(resp).await;
    assert_eq!((status, e["code"].as_str()), (413, Some("quota_exceeded")));
    assert_eq!(e["details"]["adding"], 5000);
    let resp = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "1001")
        .header("upload-metadata", "filePath L3R1cy9iaWcuYmlu")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let text = resp.text().await.unwrap();
    assert!(text.contains("quota_exceeded"), "{text}");
    assert_eq!(counts(&app).await, [0, 0, 0, 0]);
}
both!(sessions_are_refused_when_declared);
