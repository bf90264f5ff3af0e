//! SPEC §5.3 step 7: `DELETE /v2/accounts/{acc}/uploads/{uploadId}`
//! (Bytescale's AbortMultipartUpload) ends a session and removes its bytes at
//! once: the part objects of a one-part upload, the in-place object (and
//! the store's multipart upload) of a larger one. Only the principal that
//! began it may; anyone else is told 404, as for an unknown id.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::multipart::put_bytes;
use serde_json::{json, Value};
use stowage::auth::keys::KeyType;

async fn begin(app: &TestApp, size: usize, path: &str) -> (String, Value) {
    let resp = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": size, "protocol": "1.1", "path": path}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (body["uploadId"].as_str().unwrap().to_string(), body)
}

async fn abort(app: &TestApp, key: &str, id: &str) -> (u16, Value) {
    let resp = app
        .client
        .delete(app.api(&format!("/uploads/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn aborts_with_bytes(b: Backend, size: usize) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let path = format!("/abort/{size}.bin");
    let (id, started) = begin(&app, size, &path).await;
    put_bytes(&app, &started["uploadParts"]["first"], &data).await;
    let session = app.state.meta.get_upload(&app.account, &id).await.unwrap();
    let in_place = session.unwrap().blob_key;
    let storage = std::env::var("STOWAGE_TEST_STORAGE_URL").unwrap_or_default();
    if let Some(key) = &in_place {
        if let Some(open) = crate::crash::s3_upload_open(&storage, key).await {
            assert!(open, "S3 holds the multipart upload of {key}");
        }
    }
    // (A store's own multipart upload shows no object before completion.)
    if in_place.is_none() || storage.is_empty() {
        assert!(
            !app.blob_keys().await.is_empty(),
            "the part's bytes are stored"
        );
    }

    // Another principal of the same account: 404, as for an unknown id.
    let other = app.key(KeyType::Secret, &[]).await;
    let (s, body) = abort(&app, &other, &id).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert!(app
        .state
        .meta
        .get_upload(&app.account, &id)
        .await
        .unwrap()
        .is_some());

    let (s, body) = abort(&app, &app.secret, &id).await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(
        app.blob_keys().await,
        Vec::<String>::new(),
        "bytes removed at once"
    );
    if let Some(key) = &in_place {
        if let Some(open) = crate::crash::s3_upload_open(&storage, key).await {
            assert!(!open, "the abort ended the multipart upload of {key}");
        }
    }
    assert!(app
        .state
        .meta
        .get_upload(&app.account, &id)
        .await
        .unwrap()
        .is_none());
    // The session is gone for every route.
    let resp = app
        .client
        .get(app.api(&format!("/uploads/{id}/parts/0")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let url = started["uploadParts"]["first"]["uploadUrl"]
        .as_str()
        .unwrap();
    let resp = app.client.put(url).body(vec![1u8; 3]).send().await.unwrap();
    assert_ne!(
        resp.status(),
        200,
        "a part PUT after the abort stores nothing"
    );
    assert_eq!(app.blob_keys().await, Vec::<String>::new());
    assert_eq!(abort(&app, &app.secret, &id).await.0, 404);
    assert_eq!(app.get_bytes(&path).await.0, 404);
}

async fn abort_one_part(b: Backend) {
    aborts_with_bytes(b, 300 * 1024).await;
}
both!(abort_one_part);

async fn abort_in_place(b: Backend) {
    aborts_with_bytes(b, 8 * 1024 * 1024 + 7).await;
}
both!(abort_in_place);

/// A completed upload is a file, no longer a session: aborting it is 404
/// and the file stays.
async fn abort_after_completion(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data = b"finished".to_vec();
    let (id, started) = begin(&app, data.len(), "/abort/done.txt").await;
    let etag = put_bytes(&app, &started["uploadParts"]["first"], &data).await;
    let resp = app
        .client
        .put(app.api(&format!("/uploads/{id}/parts/0")))
        .bearer_auth(&app.secret)
        .json(&json!({ "etag": etag }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (s, body) = abort(&app, &app.secret, &id).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(
        app.get_bytes("/abort/done.txt").await,
        (reqwest::StatusCode::OK, data)
    );
    // An unknown id is 404 too.
    assert_eq!(abort(&app, &app.secret, "0123456789abcdef").await.0, 404);
}
both!(abort_after_completion);
