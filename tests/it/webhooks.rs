//! SPEC §11 webhooks: managing them, and what each change sends.
//! (Retries, several nodes and restarts: webhooks_delivery.rs.)

use crate::both;
use crate::common::{Backend, Options, TestApp};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stowage::auth::keys::KeyType;

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_string()
    }
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; then 200.
    answers: Mutex<VecDeque<u16>>,
}

/// A webhook receiver on 127.0.0.1 that records every request.
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> StatusCode {
    s.got.lock().unwrap().push(Received { headers, body });
    let code = s.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::on(listener)
    }

    pub fn on(listener: tokio::net::TcpListener) -> Receiver {
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(record))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, shared, task }
    }

    /// Answers the next requests with these statuses.
    pub fn answer(&self, codes: &[u16]) {
        self.shared.answers.lock().unwrap().extend(codes);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests came (fails after 10 s); returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let what = format!("{n} webhook requests");
        TestApp::eventually(Duration::from_secs(10), &what, || async {
            self.received().len() >= n
        })
        .await;
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Options of a node that may call a receiver on loopback and retries fast.
pub fn loopback() -> Options {
    Options {
        fetch_allowed_networks: "127.0.0.1/32".into(),
        webhook_retry_base: 0.2,
        ..Options::default()
    }
}

pub async fn create_hook(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.api("/webhooks"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Registers a webhook and returns (its id, its secret).
pub async fn add_hook(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let resp = create_hook(app, &app.secret, json!({"url": url, "events": events})).await;
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    (
        v["webhookId"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

/// Checks the Standard Webhooks signature with the `standardwebhooks` crate.
pub fn verify(secret: &str, r: &Received) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(r.body.as_bytes(), &r.headers)
        .unwrap_or_else(|e| panic!("signature of {} does not verify: {e:?}", r.body));
}

async fn error_code(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body["error"].clone())
}

async fn webhooks_are_managed_by_admins(b: Backend) {
    let app = TestApp::spawn(b).await;
    // Loopback, however spelled, is refused at creation without the allowance.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/",
        "http://[::1]/",
    ] {
        let resp = create_hook(&app, &app.secret, json!({"url": url, "events": ["*"]})).await;
        let (status, err) = error_code(resp).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("url_not_allowed")),
            "{url}"
        );
    }
    let resp = create_hook(
        &app,
        &app.secret,
        json!({"url": "ftp://x.test/", "events": ["*"]}),
    );
    assert_eq!(error_code(resp.await).await.1["code"], "url_not_allowed");
    // Unknown or no event types: 400 naming the valid ones.
    for events in [json!(["file.uploaded"]), json!([])] {
        let body = json!({"url": "https://hooks.example.com/x", "events": events});
        let (status, err) = error_code(create_hook(&app, &app.secret, body).await).await;
        assert_eq!(status, 400);
        assert_eq!(err["code"], "invalid_request");
        assert!(err["suggestion"].as_str().unwrap().contains("file.created"));
    }
    let body = json!({"url": "https://hooks.example.com/x",
        "events": ["file.created", "file.deleted"], "description": "ci"});
    let resp = create_hook(&app, &app.secret, body).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["url"], "https://hooks.example.com/x");
    assert_eq!(created["events"], json!(["file.created", "file.deleted"]));
    assert_eq!(created["description"], "ci");
    assert!(created["createdAt"].as_i64().unwrap() > 0);
    let secret = created["secret"].as_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    assert!(key.len() >= 24, "{} random bytes", key.len());
    let id = created["webhookId"].as_str().unwrap();
    // Listed without the secret.
    let list = |key: String| {
        let app = &app;
        async move {
            let r = app.client.get(app.api("/webhooks")).bearer_auth(key);
            r.send().await.unwrap()
        }
    };
    let listed: Value = list(app.secret.clone()).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["webhookId"], id);
    assert!(listed["items"][0].get("secret").is_none(), "{listed}");
    assert!(!listed.to_string().contains(secret));
    // A key without admin may do none of it.
    let scoped = app.key(KeyType::Secret, &["/*:read,create,delete"]).await;
    let body = json!({"url": "https://hooks.example.com/y", "events": ["*"]});
    assert_eq!(
        error_code(create_hook(&app, &scoped, body).await).await.0,
        403
    );
    assert_eq!(list(scoped.clone()).await.status(), 403);
    let hook_url = |rest: &str| app.api(&format!("/webhooks/{id}{rest}"));
    let resp = app.client.delete(hook_url("")).bearer_auth(&scoped);
    assert_eq!(resp.send().await.unwrap().status(), 403);
    let resp = app.client.post(hook_url("/test")).bearer_auth(&scoped);
    assert_eq!(resp.send().await.unwrap().status(), 403);
    // Delete: 204, then gone.
    let resp = app.client.delete(hook_url("")).bearer_auth(&app.secret);
    assert_eq!(resp.send().await.unwrap().status(), 204);
    let listed: Value = list(app.secret.clone()).await.json().await.unwrap();
    assert_eq!(listed["items"], json!([]));
    let resp = app.client.delete(hook_url("")).bearer_auth(&app.secret);
    assert_eq!(resp.send().await.unwrap().status(), 404);
    let resp = app
        .client
        .get(hook_url("/deliveries"))
        .bearer_auth(&app.secret);
    assert_eq!(resp.send().await.unwrap().status(), 404);
}
both!(webhooks_are_managed_by_admins);

async fn an_upload_is_delivered_signed(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let rx = Receiver::start().await;
    let (_, secret) = add_hook(&app, &rx.url, json!(["file.created"])).await;
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[
            ("filePath", "/in/a b.txt"),
            ("originalFileName", "orig.txt"),
        ])
        .bearer_auth(&app.secret)
        .header("content-type", "text/plain")
        .header("x-upload-metadata", r#"{"userId": 42}"#)
        .header("x-upload-tags", "red, blue")
        .body("hello webhook")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let uploaded: Value = resp.json().await.unwrap();
    let got = rx.wait_for(1).await;
    let r = &got[0];
    verify(&secret, r);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("webhook-id").starts_with("evt_"));
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert!((ts - chrono::Utc::now().timestamp()).abs() < 30);
    let body = r.json();
    assert_eq!(body["type"], "file.created");
    chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
    let details: Value = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/in/a b.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = &body["data"];
    assert_eq!(data["accountId"], app.account);
    assert_eq!(data["filePath"], "/in/a b.txt");
    assert_eq!(data["fileUrl"], uploaded["fileUrl"]);
    assert_eq!(data["fileUrl"], app.raw("/in/a%20b.txt"));
    assert_eq!(data["etag"], details["etag"]);
    assert_eq!(data["size"], 13);
    assert_eq!(data["mime"], "text/plain");
    assert_eq!(data["originalFileName"], "orig.txt");
    assert_eq!(data["metadata"], json!({"userId": 42}));
    assert_eq!(data["tags"], json!(["red", "blue"]));
    assert!(data["versionId"].as_str().is_some_and(|v| !v.is_empty()));
    // The event is delivered once: a webhook that wants only file.created is
    // not sent the delete.
    let del = app
        .client
        .delete(app.api("/files"))
        .query(&[("filePath", "/in/a b.txt")]);
    assert_eq!(
        del.bearer_auth(&app.secret).send().await.unwrap().status(),
        204
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(rx.received().len(), 1);
}
both!(an_upload_is_delivered_signed);

async fn copies_deletes_and_folders_send_events(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let rx = Receiver::start().await;
    // Nothing is sent for what happened before the webhook existed.
    app.put("/before.txt", b"old").await;
    let (hook, secret) = add_hook(&app, &rx.url, json!(["*"])).await;
    app.put("/src.txt", b"source").await;
    let copy = app
        .client
        .post(app.api("/files/copy"))
        .bearer_auth(&app.secret);
    let resp = copy
        .json(&json!({"source": "/src.txt", "destination": "/dst.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let del = app
        .client
        .delete(app.api("/files"))
        .query(&[("filePath", "/src.txt")]);
    assert_eq!(
        del.bearer_auth(&app.secret).send().await.unwrap().status(),
        204
    );
    let folder = |path: &'static str, perms: Value| {
        let app = &app;
        async move {
            let body = json!({"folderPath": path, "folderSettings": {"publicPermissions": perms}});
            let put = app.client.put(app.api("/folders")).bearer_auth(&app.secret);
            assert_eq!(put.json(&body).send().await.unwrap().status(), 200);
        }
    };
    let private = json!({"set": true, "value": []});
    folder("/pics", private.clone()).await;
    folder("/pics", private.clone()).await; // unchanged: no event
    folder("/pics", json!({"set": true})).await; // removed

    // A recursive folder delete clears a subfolder's visibility: an event.
    folder("/deep/sub", private).await;
    let del = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&app.secret);
    let resp = del.json(&json!({"folderPath": "/deep", "recursive": true}));
    let resp = resp.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = app.client.post(app.api(&format!("/webhooks/{hook}/test")));
    let resp = resp.bearer_auth(&app.secret).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let test_id = resp.json::<Value>().await.unwrap()["eventId"].clone();
    let got = rx.wait_for(8).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), 8, "{:?}", rx.received());
    got.iter().for_each(|r| verify(&secret, r));
    let summary: Vec<(String, Value)> = got
        .iter()
        .map(|r| {
            (
                r.json()["type"].as_str().unwrap().to_string(),
                r.json()["data"].clone(),
            )
        })
        .collect();
    let of = |t: &str| {
        summary
            .iter()
            .filter(|(k, _)| k == t)
            .map(|(_, d)| d.clone())
            .collect::<Vec<_>>()
    };
    let created: Vec<Value> = of("file.created")
        .iter()
        .map(|d| d["filePath"].clone())
        .collect();
    assert_eq!(created.len(), 2, "{summary:?}");
    assert!(created.contains(&json!("/src.txt")) && created.contains(&json!("/dst.txt")));
    let deleted = of("file.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["filePath"], "/src.txt");
    assert_eq!(deleted[0]["size"], 6);
    assert_eq!(deleted[0]["fileUrl"], app.raw("/src.txt"));
    let folders = of("folder.updated");
    assert_eq!(folders.len(), 4, "{summary:?}");
    assert!(folders.contains(&json!({"accountId": app.account,
        "folderPath": "/deep/sub", "publicPermissions": null})));
    assert!(
        folders.contains(&json!({"accountId": app.account, "folderPath": "/pics",
        "publicPermissions": []}))
    );
    assert!(
        folders.contains(&json!({"accountId": app.account, "folderPath": "/pics",
        "publicPermissions": null}))
    );
    let test = got
        .iter()
        .find(|r| r.json()["type"] == "webhook.test")
        .unwrap();
    assert_eq!(json!(test.header("webhook-id")), test_id);
    assert_eq!(test.json()["data"]["webhookId"], hook);
}
both!(copies_deletes_and_folders_send_events);
