//! SPEC §11 delivery: retries with the same id, the deliveries log, failure
//! after the last retry, one attempt per event across nodes, delivery after
//! a restart, and signatures checked by the Python reference library.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::webhooks::{add_hook, loopback, verify, Receiver};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

async fn deliveries(app: &TestApp, hook: &str) -> Vec<Value> {
    let resp = app
        .client
        .get(app.api(&format!("/webhooks/{hook}/deliveries")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn a_failed_attempt_is_retried_with_the_same_id(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let rx = Receiver::start().await;
    rx.answer(&[500]);
    let (hook, secret) = add_hook(&app, &rx.url, json!(["file.created"])).await;
    app.put("/r.txt", b"retry me").await;
    let got = rx.wait_for(2).await;
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids[0], ids[1], "the same webhook-id on every attempt");
    assert_eq!(got[0].body, got[1].body, "the same body on every attempt");
    got.iter().for_each(|r| verify(&secret, r));
    let log = || deliveries(&app, &hook);
    TestApp::eventually(Duration::from_secs(5), "two attempts logged", || async {
        log().await.len() == 2
    })
    .await;
    let items = log().await;
    // Newest first.
    assert_eq!(items[0]["attempt"], 2);
    assert_eq!(items[0]["statusCode"], 200);
    assert_eq!(items[0]["outcome"], "delivered");
    assert_eq!(items[1]["attempt"], 1);
    assert_eq!(items[1]["statusCode"], 500);
    assert_eq!(items[1]["outcome"], "retrying");
    for item in &items {
        assert_eq!(item["eventId"], ids[0]);
        assert_eq!(item["type"], "file.created");
        assert!(item["at"].as_i64().unwrap() > 0);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), 2, "nothing more once delivered");
    // Attempts by outcome, and the backlog gauges (read every 10 s: present
    // from the worker's first loop).
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    for needle in [
        "stowage_webhook_attempts_total{outcome=\"retrying\"}",
        "stowage_webhook_attempts_total{outcome=\"delivered\"}",
        "stowage_webhook_pending_deliveries",
        "stowage_webhook_oldest_pending_seconds",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
}
both!(a_failed_attempt_is_retried_with_the_same_id);

async fn a_delivery_fails_after_six_retries(b: Backend) {
    // Retries after 1, 6, 36, 216 ms, 1.3 s, 7.8 s: then failed.
    let opts = Options {
        webhook_retry_base: 0.001,
        ..loopback()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let rx = Receiver::start().await;
    rx.answer(&[503; 10]);
    let (hook, _) = add_hook(&app, &rx.url, json!(["*"])).await;
    app.put("/f.txt", b"x").await;
    let log = || deliveries(&app, &hook);
    TestApp::eventually(Duration::from_secs(20), "the delivery failed", || async {
        log()
            .await
            .first()
            .is_some_and(|a| a["outcome"] == "failed")
    })
    .await;
    let items = log().await;
    assert_eq!(items.len(), 7, "{items:?}");
    assert_eq!(items[0]["attempt"], 7);
    assert!(items[1..]
        .iter()
        .all(|a| a["outcome"] == "retrying" && a["statusCode"] == 503));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), 7);
}
both!(a_delivery_fails_after_six_retries);

async fn two_nodes_deliver_each_event_once(b: Backend) {
    let a = TestApp::spawn_with(b, loopback()).await;
    let node_b = a.spawn_peer_with(&loopback()).await;
    let rx = Receiver::start().await;
    let (_, secret) = add_hook(&a, &rx.url, json!(["file.created"])).await;
    let n = 20;
    let uploads = (0..n).map(|i| {
        let node = if i % 2 == 0 { &a } else { &node_b };
        async move { node.put(&format!("/n/{i}.txt"), b"both").await }
    });
    futures::future::join_all(uploads).await;
    rx.wait_for(n).await;
    // Both nodes poll every 500 ms: give them time to repeat anything.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = rx.received();
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for r in &got {
        verify(&secret, r);
        *per_id.entry(r.header("webhook-id")).or_default() += 1;
    }
    assert_eq!(per_id.len(), n, "one event per upload");
    assert!(per_id.values().all(|&c| c == 1), "{per_id:?}");
    let mut paths: Vec<String> = got
        .iter()
        .map(|r| r.json()["data"]["filePath"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), n);
}
both!(two_nodes_deliver_each_event_once);

async fn an_event_survives_the_node_that_wrote_it(b: Backend) {
    let mut a = TestApp::spawn_with(b, loopback()).await;
    // The receiver is down while node A runs: its attempt fails.
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = parked.local_addr().unwrap();
    drop(parked);
    let url = format!("http://{addr}/hook");
    let (hook, secret) = add_hook(&a, &url, json!(["file.created"])).await;
    a.put("/survivor.txt", b"still here").await;
    TestApp::eventually(Duration::from_secs(5), "a failed attempt", || async {
        deliveries(&a, &hook).await.len() == 1
    })
    .await;
    let first = deliveries(&a, &hook).await;
    assert_eq!(first[0]["outcome"], "retrying");
    assert!(first[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    // Node A goes away; the receiver comes up; a new node delivers.
    let opts = Options {
        webhook_retry_base: 0.2,
        ..loopback()
    };
    a.begin_shutdown();
    a.stopped().await.unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let rx = Receiver::on(listener);
    let fresh = a.spawn_peer_with(&opts).await;
    let got = rx.wait_for(1).await;
    verify(&secret, &got[0]);
    assert_eq!(got[0].json()["data"]["filePath"], "/survivor.txt");
    let items = deliveries(&fresh, &hook).await;
    assert_eq!(items[0]["outcome"], "delivered");
    assert_eq!(items[0]["attempt"], 2);
}
both!(an_event_survives_the_node_that_wrote_it);

const PY_VERIFY: &str = r#"
import json, sys
from standardwebhooks import Webhook
secret, body_path, headers_json = sys.argv[1], sys.argv[2], sys.argv[3]
body = open(body_path, "rb").read()
try:
    Webhook(secret).verify(body, json.loads(headers_json))
except Exception as e:
    print("refused:", e)
    sys.exit(3)
print("verified")
"#;

/// Runs the Python reference library on a request; true if it verifies.
fn python_verifies(secret: &str, body: &str, headers: &Value) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.json");
    std::fs::write(&path, body).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", PY_VERIFY, secret, path.to_str().unwrap()])
        .arg(headers.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "python failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success() && stdout.contains("verified")
}

fn python_library_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .status()
        .is_ok_and(|s| s.success())
}

async fn the_python_reference_library_verifies_deliveries(b: Backend) {
    if !python_library_available() {
        eprintln!(
            "\n!!!!! SKIPPED: python3 cannot import standardwebhooks \
             (pip install standardwebhooks); signatures NOT checked by the reference library !!!!!\n"
        );
        return;
    }
    let app = TestApp::spawn_with(b, loopback()).await;
    let rx = Receiver::start().await;
    let (_, secret) = add_hook(&app, &rx.url, json!(["*"])).await;
    app.put("/py/ü.txt", "é — unicode body".as_bytes()).await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    let headers = json!({
        "webhook-id": r.header("webhook-id"),
        "webhook-timestamp": r.header("webhook-timestamp"),
        "webhook-signature": r.header("webhook-signature"),
    });
    assert!(python_verifies(&secret, &r.body, &headers), "{}", r.body);
    // The check can fail: another body, or another secret, is refused.
    let tampered = r.body.replace("/py/", "/px/");
    assert!(!python_verifies(&secret, &tampered, &headers));
    let other = format!("whsec_{}", "A".repeat(32));
    assert!(!python_verifies(&other, &r.body, &headers));
}
both!(the_python_reference_library_verifies_deliveries);
