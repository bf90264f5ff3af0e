//! What every object store must take alike (issue #33): empty uploads on
//! each route (a real S3 server refuses an empty `UploadPart`), and, on an
//! S3 bucket that is full (STOWAGE_TEST_FULL_STORAGE_URL: a Garage bucket
//! with a size quota, set up by `.ci/run`), 507 rather than an outage.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use serde_json::{json, Value};

async fn tus_create(app: &TestApp, len: usize, path: &str) -> reqwest::Response {
    let meta = format!(
        "filePath {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, path)
    );
    app.client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", len.to_string())
        .header("upload-metadata", meta)
        .send()
        .await
        .unwrap()
}

/// `Upload-Length: 0` completes at creation, on every store.
async fn zero_byte_tus(b: Backend) {
    let app = TestApp::spawn(b).await;
    let resp = tus_create(&app, 0, "/empty/tus.txt").await;
    let status = resp.status();
    assert_eq!(status, 201, "{}", resp.text().await.unwrap());
    assert_eq!(resp.headers()["upload-offset"], "0");
    assert_eq!(resp.headers()["upload-file-path"], "/empty/tus.txt");
    let (s, got) = app.get_bytes("/empty/tus.txt").await;
    assert_eq!((s.as_u16(), got.len()), (200, 0));
}
both!(zero_byte_tus);

/// A 0-byte multipart upload (one part of no bytes), with part URLs of
/// stowage and, on S3, presigned ones (`STOWAGE_DIRECT_PARTS`).
async fn zero_byte_multipart(b: Backend) {
    for direct_parts in [false, true] {
        let opts = Options {
            direct_parts,
            ..Options::default()
        };
        let app = TestApp::spawn_with(b, opts).await;
        let resp = app
            .client
            .post(app.api("/uploads"))
            .bearer_auth(&app.secret)
            .json(&json!({"size": 0, "protocol": "1.1", "path": "/empty/mp.txt"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let started: Value = resp.json().await.unwrap();
        let id = started["uploadId"].as_str().unwrap();
        let etag = crate::multipart::put_bytes(&app, &started["uploadParts"]["first"], &[]).await;
        let resp = app
            .client
            .put(app.api(&format!("/uploads/{id}/parts/0")))
            .bearer_auth(&app.secret)
            .json(&json!({ "etag": etag }))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "direct parts {direct_parts}: {body}");
        assert_eq!(body["status"], "Completed");
        let (s, got) = app.get_bytes("/empty/mp.txt").await;
        assert_eq!((s.as_u16(), got.len()), (200, 0));
    }
}
both!(zero_byte_multipart);

/// A bucket over its quota (Garage: 403 "quota is reached") is full: 507,
/// not a 500 and not "unreachable".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_over_its_quota_is_full() {
    let Some(url) = std::env::var("STOWAGE_TEST_FULL_STORAGE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let opts = Options {
        storage_url: Some(url),
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, opts).await;
    let data: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let resp = app.upload(&app.secret, "/quota/big.bin", data).await;
    assert_eq!(resp.status(), 507);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_storage", "{body}");
    assert_eq!(app.get_bytes("/quota/big.bin").await.0, 404);
}
