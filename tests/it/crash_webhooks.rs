//! Issue #26: a webhook event survives a crash right after its commit. The
//! real binary answers an upload 200 while its webhook receiver is down, is
//! killed with SIGKILL at once, and a new node on the same database and data
//! directory delivers `file.created` once the receiver is up: the event was
//! written in the upload's own transaction (the outbox), so the answer the
//! client got is the promise. The delivery is a Standard Webhooks 1.0 POST
//! whose `webhook-id` is the event's id, as stored before the crash.

use crate::crash::{bootstrap_lines, field, start_with_env, storage_url};
use crate::webhooks::{verify, Receiver};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Fast retries; receivers on loopback allowed.
const ENV: &[(&str, &str)] = &[
    ("STOWAGE_WEBHOOK_RETRY_BASE", "0.05"),
    ("STOWAGE_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32"),
];

/// `(event_id, type, data)` of every event stored in the node's SQLite database.
async fn stored_events(dir: &Path) -> Vec<(String, String, String)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/db.sqlite", dir.display()))
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT event_id, type, data FROM events ORDER BY created_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

/// Creates a `file.created` webhook to `url`; returns its secret.
async fn webhook(
    client: &reqwest::Client,
    base: &str,
    account: &str,
    key: &str,
    url: &str,
) -> String {
    let resp = client
        .post(format!("{base}/v2/accounts/{account}/webhooks"))
        .bearer_auth(key)
        .json(&json!({"url": url, "events": ["file.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    v["secret"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_created_is_delivered_after_a_crash_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage_url(dir.path());
    let (node, out) = start_with_env(dir.path(), &storage, 600, ENV);
    let lines = bootstrap_lines(&out);
    let (account, key) = (field(&lines, "account:"), field(&lines, "secret key:"));
    let client = reqwest::Client::new();
    let base = format!("http://{}", node.addr);
    // The receiver's port, reserved and closed: deliveries are refused.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let url = format!("http://127.0.0.1:{port}/hook");
    let secret = webhook(&client, &base, &account, &key, &url).await;

    let resp = client
        .post(format!("{base}/v2/accounts/{account}/uploads/binary"))
        .query(&[("filePath", "/crash/hooked.txt")])
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("committed, then killed")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let uploaded: Value = resp.json().await.unwrap();
    drop(node); // SIGKILL, right after the answer.

    let events = stored_events(dir.path()).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (event_id, event_type, _) = events[0].clone();
    assert_eq!(event_type, "file.created");
    assert!(event_id.starts_with("evt_"), "{event_id}");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let rx = Receiver::on(listener);
    let (_node, _) = start_with_env(dir.path(), &storage, 600, ENV);
    // A lease of the killed node's attempt (if one was under way) lasts 30 s.
    let started = Instant::now();
    while rx.received().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "never delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "delivered once");
    let r = &got[0];
    verify(&secret, r);
    assert_eq!(r.header("webhook-id"), event_id, "the stored event's id");
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert!((ts - chrono::Utc::now().timestamp()).abs() < 60, "{ts}");
    assert!(r.header("webhook-signature").starts_with("v1,"));
    let body = r.json();
    assert_eq!(body["type"], "file.created");
    assert_eq!(body["data"]["filePath"], "/crash/hooked.txt");
    assert_eq!(body["data"]["etag"], uploaded["etag"], "{body}");
    assert_eq!(body["data"]["accountId"], account.as_str());
    assert_eq!(stored_events(dir.path()).await.len(), 1, "no new event");
}
