//! A commit is never cut by a client that goes away (issue #32): the
//! confirmation that completes a multipart upload runs in its own task, so a
//! connection dropped between the file's commit and the hand-over of its
//! blob leaves the file whole, byte for byte.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::multipart::{part, put_bytes};
use serde_json::{json, Value};
use std::time::Duration;
use stowage::faults::{Pause, AFTER_COMMIT};
use tokio::io::AsyncWriteExt;

async fn begin(app: &TestApp, size: usize) -> String {
    let resp = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({ "size": size, "path": "/cut/whole.bin", "protocol": "1.1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["uploadId"].as_str().unwrap().to_string()
}

/// Sends the confirmation of part `idx` over a raw connection and closes it
/// once the server has committed the file but not yet kept its blob.
async fn confirm_then_hang_up(app: &TestApp, id: &str, idx: u64, etag: &str) {
    let body = json!({ "etag": etag }).to_string();
    let host = app.url.trim_start_matches("http://").to_string();
    let request = format!(
        "PUT /v2/accounts/{}/uploads/{id}/parts/{idx} HTTP/1.1\r\nHost: {host}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        app.account,
        app.secret,
        body.len()
    );
    let pause = Pause::arm(AFTER_COMMIT, &app.account);
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), pause.reached())
        .await
        .expect("the completion reached its commit");
    drop(conn);
    // Long enough for the server to notice the closed connection and drop
    // whatever the request still owns.
    tokio::time::sleep(Duration::from_millis(500)).await;
    pause.release(AFTER_COMMIT, &app.account);
}

async fn completion_survives_a_dropped_connection(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..(9usize << 20)).map(|i| (i % 251) as u8).collect();
    let id = begin(&app, data.len()).await;
    let mut etags = Vec::new();
    for idx in 0..2 {
        etags.push(put_bytes(&app, &part(&app, &id, idx).await, &data).await);
    }
    let first = app
        .client
        .put(app.api(&format!("/uploads/{id}/parts/0")))
        .bearer_auth(&app.secret)
        .json(&json!({ "etag": etags[0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    confirm_then_hang_up(&app, &id, 1, &etags[1]).await;

    TestApp::eventually(Duration::from_secs(10), "the file is readable", || async {
        app.get_bytes("/cut/whole.bin").await.0 == 200
    })
    .await;
    // Whatever the request left to clean up has had its chance to run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, bytes) = app.get_bytes("/cut/whole.bin").await;
    assert_eq!(status, 200);
    assert!(bytes == data, "the committed file lost its bytes");
    let parts = app
        .client
        .get(app.api(&format!("/uploads/{id}/parts")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.status(), 404, "the session ended with its commit");
}
both!(completion_survives_a_dropped_connection);
