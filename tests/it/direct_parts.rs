//! `STOWAGE_DIRECT_PARTS`: on S3, part `uploadUrl`s are presigned S3
//! `UploadPart` URLs and part bytes never pass through stowage. Runs against
//! moto when `STOWAGE_TEST_STORAGE_URL` is an `s3://` URL (`.ci/run`); on the
//! file store the setting has no effect, which is checked too.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::multipart::{part as part_url, put_bytes as put};
use serde_json::{json, Value};

fn on_s3() -> bool {
    std::env::var("STOWAGE_TEST_STORAGE_URL").is_ok_and(|u| u.starts_with("s3://"))
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .request(method, app.api(path))
        .bearer_auth(&app.secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn direct_parts_skip_stowage(b: Backend) {
    let opts = Options {
        direct_parts: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let data: Vec<u8> = (0..17u32 * 1024 * 1024 + 5)
        .map(|i| (i % 251) as u8)
        .collect();
    let (s, started) = api(
        &app,
        reqwest::Method::POST,
        "/uploads",
        json!({"size": data.len(), "protocol": "1.1", "path": "/direct/big.bin"}),
    )
    .await;
    assert_eq!(s, 200, "{started}");
    let id = started["uploadId"].as_str().unwrap().to_string();
    let first = started["uploadParts"]["first"].clone();
    let url = first["uploadUrl"].as_str().unwrap();
    if !on_s3() {
        // The file store cannot presign: parts go through stowage as usual.
        assert!(url.starts_with(&app.url), "{url}");
        return;
    }
    assert!(
        !url.starts_with(&app.url),
        "a store URL, not stowage's: {url}"
    );
    assert!(
        url.contains("partNumber=1") && url.contains("X-Amz-Signature="),
        "{url}"
    );
    let parts = [
        first,
        part_url(&app, &id, 1).await,
        part_url(&app, &id, 2).await,
    ];
    assert!(parts[2]["uploadUrl"]
        .as_str()
        .unwrap()
        .contains("partNumber=3"));
    // An ETag the store never returned fails, and names the part.
    let (s, body) = api(
        &app,
        reqwest::Method::PUT,
        &format!("/uploads/{id}/parts/0"),
        json!({"etag": ""}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let mut etags = Vec::new();
    for p in &parts {
        etags.push(put(&app, p, &data).await);
    }
    for (idx, etag) in etags.iter().enumerate().take(2) {
        let (s, body) = api(
            &app,
            reqwest::Method::PUT,
            &format!("/uploads/{id}/parts/{idx}"),
            json!({ "etag": etag }),
        )
        .await;
        assert_eq!((s, body), (200, json!({"status": "Pending"})));
    }
    assert_eq!(
        app.get_bytes("/direct/big.bin").await.0,
        404,
        "not visible yet"
    );
    let (s, body) = api(
        &app,
        reqwest::Method::PUT,
        &format!("/uploads/{id}/parts/2"),
        json!({ "etag": etags[2] }),
    )
    .await;
    assert_eq!(
        (s, body["status"].as_str()),
        (200, Some("Completed")),
        "{body}"
    );
    let (status, got) = app.get_bytes("/direct/big.bin").await;
    assert_eq!(status, 200);
    assert!(got == data, "byte-exact through the store");
    let row = app
        .state
        .meta
        .get_file(&app.account, "/direct/big.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.size, data.len() as i64);
    assert!(row.etag.ends_with("-3"), "composite etag: {}", row.etag);
}
both!(direct_parts_skip_stowage);

/// A completion whose parts hold fewer bytes than declared is refused and
/// commits nothing.
async fn short_direct_upload_is_refused(b: Backend) {
    if !on_s3() {
        return;
    }
    let opts = Options {
        direct_parts: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let (s, started) = api(
        &app,
        reqwest::Method::POST,
        "/uploads",
        json!({"size": 1000, "protocol": "1.1", "path": "/direct/short.bin"}),
    )
    .await;
    assert_eq!(s, 200, "{started}");
    let id = started["uploadId"].as_str().unwrap().to_string();
    let url = started["uploadParts"]["first"]["uploadUrl"]
        .as_str()
        .unwrap();
    let resp = app
        .client
        .put(url)
        .body(vec![7u8; 10])
        .send()
        .await
        .unwrap();
    if resp.status() == 403 {
        // A store that checks signatures refuses the wrong size at once: the
        // part URL signs Content-Length (moto does not check).
        assert_eq!(app.get_bytes("/direct/short.bin").await.0, 404);
        return;
    }
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let (s, body) = api(
        &app,
        reqwest::Method::PUT,
        &format!("/uploads/{id}/parts/0"),
        json!({ "etag": etag }),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10 bytes"),
        "{body}"
    );
    assert_eq!(app.get_bytes("/direct/short.bin").await.0, 404);
    assert_eq!(
        app.blob_keys().await,
        Vec::<String>::new(),
        "the object is deleted at once"
    );
}
both!(short_direct_upload_is_refused);
