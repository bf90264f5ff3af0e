//! SPEC §5.3: the multipart protocol the Bytescale SDK speaks.

use crate::both;
use crate::common::{sha256_hex, Backend, Options, TestApp};
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

async fn begin(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

pub(crate) async fn part(app: &TestApp, id: &str, idx: u64) -> Value {
    let resp = app
        .client
        .get(app.api(&format!("/uploads/{id}/parts/{idx}")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The etag of a file whose parts went straight into the store's object:
/// `<sha256 of the parts' SHA-256s>-<parts>` (README, "Multipart uploads").
fn composite(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(hex::decode(p.trim_matches('"')).unwrap());
    }
    format!("{}-{}", hex::encode(h.finalize()), parts.len())
}

/// PUTs a part's bytes to its uploadUrl (no credentials) and returns the ETag.
pub(crate) async fn put_bytes(app: &TestApp, part: &Value, data: &[u8]) -> String {
    let start = part["range"]["inclusiveStart"].as_u64().unwrap() as usize;
    let end = (part["range"]["inclusiveEnd"].as_i64().unwrap() + 1) as usize;
    let resp = app
        .client
        .put(part["uploadUrl"].as_str().unwrap())
        .body(data[start..end].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.headers()["etag"].to_str().unwrap().to_string()
}

async fn confirm(app: &TestApp, id: &str, idx: u64, etag: &str) -> (u16, Value) {
    confirm_as(app, &app.secret, id, idx, etag).await
}

/// Confirms as `key`: only the principal that began an upload may.
async fn confirm_as(app: &TestApp, key: &str, id: &str, idx: u64, etag: &str) -> (u16, Value) {
    let resp = app
        .client
        .put(app.api(&format!("/uploads/{id}/parts/{idx}")))
        .bearer_auth(key)
        .json(&json!({ "etag": etag }))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn remaining(app: &TestApp, id: &str) -> Value {
    app.client
        .get(app.api(&format!("/uploads/{id}/parts")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["remainingUploadParts"]
        .clone()
}

async fn twenty_mib_in_parallel_any_order(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..20u32 * 1024 * 1024 + 123)
        .map(|i| (i % 241) as u8)
        .collect();
    let (s, started) = begin(&app, &app.secret, json!({
        "size": data.len(), "protocol": "1.1", "mime": "application/x-test",
        "originalFileName": "big.bin",
        "path": {"folderPath": "/mp/{UTC_YEAR}", "fileName": "{ORIGINAL_FILE_NAME}-{UNIQUE_DIGITS_4}{ORIGINAL_FILE_EXT}"},
        "metadata": {"k": 1}, "tags": ["t"]
    })).await;
    assert_eq!(s, 200, "{started}");
    let id = started["uploadId"].as_str().unwrap().to_string();
    assert_eq!(started["uploadParts"]["count"], 3);
    let file = &started["file"];
    let path = file["filePath"].as_str().unwrap().to_string();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(
        path.starts_with(&format!("/mp/{year}/big-")) && path.ends_with(".bin"),
        "{path}"
    );
    assert_eq!(
        file["fileUrl"],
        format!("{}/{}/raw{path}", app.url, app.account)
    );
    assert_eq!(file["mime"], "application/x-test");
    assert_eq!(file["size"], data.len());
    assert_eq!(file["accountId"], app.account);
    let first = started["uploadParts"]["first"].clone();
    assert_eq!(
        first["range"],
        json!({"inclusiveStart": 0, "inclusiveEnd": 8 * 1024 * 1024 - 1})
    );
    assert!(first["uploadUrl"].as_str().unwrap().starts_with(&app.url));
    let p2 = part(&app, &id, 2).await;
    assert_eq!(p2["range"]["inclusiveEnd"], data.len() - 1);
    let p1 = part(&app, &id, 1).await;
    assert_eq!(remaining(&app, &id).await, json!([0, 1, 2]));

    // Parts in parallel, last one first; a retried PUT is fine.
    let (e2, e1, e0) = tokio::join!(
        put_bytes(&app, &p2, &data),
        put_bytes(&app, &p1, &data),
        put_bytes(&app, &first, &data)
    );
    assert_eq!(
        put_bytes(&app, &p1, &data).await,
        e1,
        "retry gives the same ETag"
    );
    assert_eq!(
        confirm(&app, &id, 2, &e2).await,
        (200, json!({"status": "Pending"}))
    );
    assert_eq!(
        confirm(&app, &id, 0, &e0).await,
        (200, json!({"status": "Pending"}))
    );
    assert_eq!(remaining(&app, &id).await, json!([1]));
    // Nothing is visible until the last confirmation.
    assert_eq!(app.get_bytes(&path).await.0, 404);
    // The parts went straight into the final object (the file store shows it,
    // S3 lists nothing until the multipart upload completes).
    let before = app.blob_keys().await;
    assert!(
        before.len() <= 1,
        "one object, not one per part: {before:?}"
    );
    let (s, done) = confirm(&app, &id, 1, &e1).await;
    assert_eq!(s, 200);
    assert_eq!(
        done,
        json!({"status": "Completed", "etag": composite(&[&e0, &e1, &e2])})
    );
    let (status, got) = app.get_bytes(&path).await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&got), sha256_hex(&data));
    // Completion made no new object: the one the parts were written into is
    // the file's.
    let after = app.blob_keys().await;
    assert_eq!(after.len(), 1);
    assert!(
        before.is_empty() || before == after,
        "{before:?} → {after:?}"
    );
    // Its whole-file SHA-256 comes from the background digest pass.
    let head = |app: &TestApp| {
        app.client
            .head(format!("{}/{}/raw{path}", app.url, app.account))
            .send()
    };
    assert!(head(&app)
        .await
        .unwrap()
        .headers()
        .get("repr-digest")
        .is_none());
    stowage::domain::digests::run_once(&app.state)
        .await
        .unwrap();
    app.state.files.forget(&app.account, &path).await;
    let resp = head(&app).await.unwrap();
    let want = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(hex::decode(sha256_hex(&data)).unwrap())
    );
    assert_eq!(resp.headers()["repr-digest"], want.as_str());
    let resp = app
        .client
        .get(app.api(&format!("/uploads/{id}/parts")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "session removed");
}
both!(twenty_mib_in_parallel_any_order);

async fn zero_bytes_and_refusals(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            max_file_size: 30 * 1024 * 1024,
            ..Options::default()
        },
    )
    .await;
    let (_, started) = begin(
        &app,
        &app.public,
        json!({"size": 0, "protocol": "1.1", "path": "/mp/empty.txt"}),
    )
    .await;
    let first = &started["uploadParts"]["first"];
    assert_eq!(started["uploadParts"]["count"], 1);
    assert_eq!(
        first["range"],
        json!({"inclusiveStart": 0, "inclusiveEnd": -1})
    );
    assert_eq!(started["file"]["mime"], "text/plain");
    let etag = put_bytes(&app, first, b"").await;
    let id = started["uploadId"].as_str().unwrap();
    let (s, other) = confirm(&app, id, 0, &etag).await;
    assert_eq!(
        (s, other["error"]["code"].as_str()),
        (404, Some("not_found")),
        "another key of the account is told the upload does not exist"
    );
    let (_, done) = confirm_as(&app, &app.public, id, 0, &etag).await;
    assert_eq!(done["status"], "Completed", "{done}");
    assert_eq!(
        app.get_bytes("/mp/empty.txt").await,
        (reqwest::StatusCode::OK, vec![])
    );

    // The path is checked at begin: exists + no overwrite → 409 now.
    let (s, e) = begin(
        &app,
        &app.public,
        json!({"size": 1, "path": "/mp/empty.txt"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("file_already_exists"))
    );
    let (s, e) = begin(&app, &app.public, json!({"size": 1, "path": {"folderPath": "/mp", "fileName": "empty.txt", "fileNameFallback": "empty-{UNIQUE_DIGITS_3}.txt"}})).await;
    assert_eq!(s, 200);
    assert!(e["file"]["filePath"]
        .as_str()
        .unwrap()
        .starts_with("/mp/empty-"));
    let (s, e) = begin(
        &app,
        &app.public,
        json!({"size": 40 * 1024 * 1024, "path": "/mp/huge"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (413, Some("file_too_large"))
    );
    let (s, _) = begin(&app, &app.public, json!({"size": 1, "protocol": "2.0"})).await;
    assert_eq!(s, 400);
    let (s, _) = begin(
        &app,
        &app.public,
        json!({"size": 1, "path": "/x/{FILE_HASH_SHA256}"}),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = begin(&app, "secret_nope", json!({"size": 1})).await;
    assert_eq!(s, 401);

    // Part URL tampering, wrong sizes, wrong ETags.
    let (_, started) = begin(
        &app,
        &app.secret,
        json!({"size": 10, "path": "/mp/ten.bin"}),
    )
    .await;
    let id = started["uploadId"].as_str().unwrap();
    let url = started["uploadParts"]["first"]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let put = |u: String, body: &'static [u8]| {
        let c = app.client.clone();
        async move {
            let r = c.put(u).body(body).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let tampered = url.replace("/parts/0/", "/parts/1/");
    assert_eq!(
        put(tampered, b"0123456789").await.0,
        401,
        "signed for part 0 only"
    );
    let exp_bumped = {
        let (head, q) = url.split_once("exp=").unwrap();
        let (exp, rest) = q.split_once('&').unwrap();
        format!("{head}exp={}&{rest}", exp.parse::<i64>().unwrap() + 1)
    };
    let (s, e) = put(exp_bumped, b"0123456789").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    let no_sig = url.split('?').next().unwrap().to_string();
    assert_eq!(put(no_sig, b"0123456789").await.0, 401);
    assert_eq!(put(url.clone(), b"short").await.0, 400);
    assert_eq!(put(url.clone(), b"much too long!").await.0, 400);
    let (s, e) = confirm(&app, id, 0, "\"deadbeef\"").await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(put(url.clone(), b"0123456789").await.0, 200);
    let (s, _) = confirm(&app, id, 0, "\"nope\"").await;
    assert_eq!(s, 400);
    let (s, _) = confirm(&app, id, 7, "\"nope\"").await;
    assert_eq!(s, 400);
    // Another account's key cannot touch this upload.
    let other = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
        .await
        .unwrap();
    let okey = app
        .key_for(&other.id, stowage::auth::keys::KeyType::Secret, &[])
        .await;
    let resp = app
        .client
        .get(app.api(&format!("/uploads/{id}/parts/0")))
        .bearer_auth(okey)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
both!(zero_bytes_and_refusals);

async fn parts_split_across_two_nodes(b: Backend) {
    let a = TestApp::spawn(b).await;
    let node_b = a.spawn_peer().await;
    let data: Vec<u8> = (0..9u32 * 1024 * 1024).map(|i| (i % 7) as u8).collect();
    let (_, started) = begin(
        &a,
        &a.secret,
        json!({"size": data.len(), "path": "/mp/split.bin"}),
    )
    .await;
    let id = started["uploadId"].as_str().unwrap().to_string();
    // Part 1's URL comes from node B and its bytes go to node B; part 0 to A.
    let p1 = part(&node_b, &id, 1).await;
    let e1 = put_bytes(&node_b, &p1, &data).await;
    let e0 = put_bytes(&a, &started["uploadParts"]["first"], &data).await;
    assert_eq!(confirm(&node_b, &id, 1, &e1).await.1["status"], "Pending");
    let (_, done) = confirm(&a, &id, 0, &e0).await;
    assert_eq!(done["etag"], composite(&[&e0, &e1]));
    assert_eq!(
        sha256_hex(&node_b.get_bytes("/mp/split.bin").await.1),
        sha256_hex(&data)
    );
}
both!(parts_split_across_two_nodes);

async fn expired_sessions_are_swept(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            abandoned_upload_ttl: 1,
            ..Options::default()
        },
    )
    .await;
    let (_, started) = begin(
        &app,
        &app.secret,
        json!({"size": 5, "path": "/mp/abandoned"}),
    )
    .await;
    put_bytes(&app, &started["uploadParts"]["first"], b"12345").await;
    assert_eq!(app.blob_keys().await.len(), 1, "the part's bytes");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        stowage::domain::multipart::sweep_expired(&app.state)
            .await
            .unwrap(),
        1
    );
    assert!(app.blob_keys().await.is_empty());
    let id = started["uploadId"].as_str().unwrap();
    let resp = app
        .client
        .get(app.api(&format!("/uploads/{id}/parts")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(app.get_bytes("/mp/abandoned").await.0, 404);
}
both!(expired_sessions_are_swept);

/// A failed retry of a confirmed part leaves the stored part intact.
async fn failed_retry_keeps_the_confirmed_part(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..9u32 * 1024 * 1024).map(|i| (i % 13) as u8).collect();
    let (_, started) = begin(
        &app,
        &app.secret,
        json!({"size": data.len(), "path": "/mp/retry.bin"}),
    )
    .await;
    let id = started["uploadId"].as_str().unwrap().to_string();
    let first = started["uploadParts"]["first"].clone();
    let e0 = put_bytes(&app, &first, &data).await;
    assert_eq!(confirm(&app, &id, 0, &e0).await.1["status"], "Pending");
    let resp = app
        .client
        .put(first["uploadUrl"].as_str().unwrap())
        .body(vec![0u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "short retry refused");
    let p1 = part(&app, &id, 1).await;
    let e1 = put_bytes(&app, &p1, &data).await;
    let (s, done) = confirm(&app, &id, 1, &e1).await;
    assert_eq!(
        (s, done["etag"].as_str()),
        (200, Some(composite(&[&e0, &e1]).as_str()))
    );
    assert_eq!(
        sha256_hex(&app.get_bytes("/mp/retry.bin").await.1),
        sha256_hex(&data)
    );
    assert_eq!(app.blob_keys().await.len(), 1, "every part attempt removed");
}
both!(failed_retry_keeps_the_confirmed_part);

async fn mime_types_must_be_single_and_valid(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, e) = begin(
        &app,
        &app.secret,
        json!({"size": 1, "mime": "image/png, text/html"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/m/x")])
        .bearer_auth(&app.secret)
        .header("content-type", "not a mime")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Parameters are kept in canonical form.
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/m/y.txt")])
        .bearer_auth(&app.secret)
        .header("content-type", "text/plain; charset=UTF-8")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.client.get(app.raw("/m/y.txt")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(app.blob_keys().await.len() == 1);
}
both!(mime_types_must_be_single_and_valid);

/// An abandoned upload whose parts went into the store's object: the sweep
/// deletes the object and, on S3, aborts the store's multipart upload.
async fn abandoned_in_place_upload_is_aborted(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            abandoned_upload_ttl: 1,
            ..Options::default()
        },
    )
    .await;
    let data = vec![3u8; 9 * 1024 * 1024];
    let (_, started) = begin(
        &app,
        &app.secret,
        json!({"size": data.len(), "path": "/mp/left.bin"}),
    )
    .await;
    let id = started["uploadId"].as_str().unwrap().to_string();
    put_bytes(&app, &started["uploadParts"]["first"], &data).await;
    let session = app.state.meta.get_upload(&app.account, &id).await.unwrap();
    let key = session.unwrap().blob_key.expect("parts in place");
    let storage = std::env::var("STOWAGE_TEST_STORAGE_URL").unwrap_or_default();
    if let Some(open) = crate::crash::s3_upload_open(&storage, &key).await {
        assert!(open, "S3 holds the multipart upload of {key}");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let swept = stowage::domain::multipart::sweep_expired(&app.state).await;
    assert_eq!(swept.unwrap(), 1);
    assert!(app.blob_keys().await.is_empty());
    if let Some(open) = crate::crash::s3_upload_open(&storage, &key).await {
        assert!(!open, "the sweep aborted the multipart upload of {key}");
    }
    assert_eq!(app.get_bytes("/mp/left.bin").await.0, 404);
}
both!(abandoned_in_place_upload_is_aborted);
