//! SPEC §11: the upload hook. A hook server on loopback answers what each
//! test tells it; every call is checked with the `standardwebhooks` crate.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::webhooks::{loopback, verify, Received};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stowage::auth::keys::KeyType;

/// What the hook answers next: a status, a JSON body, a delay.
#[derive(Clone)]
struct Reply(u16, Value, u64);

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    reply: Mutex<Option<Reply>>,
}

async fn answer(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    s.got.lock().unwrap().push(Received { headers, body });
    let Reply(status, body, delay) =
        s.reply
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(Reply(204, Value::Null, 0));
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let status = StatusCode::from_u16(status).unwrap();
    match body {
        Value::Null => status.into_response(),
        body => (status, axum::Json(body)).into_response(),
    }
}

struct Hook {
    url: String,
    shared: Arc<Shared>,
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/authorize", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/authorize", axum::routing::post(answer))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hook { url, shared }
    }

    fn reply(&self, status: u16, body: Value, delay_ms: u64) {
        *self.shared.reply.lock().unwrap() = Some(Reply(status, body, delay_ms));
    }

    fn calls(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }
}

async fn set_hook(app: &TestApp, key: &str, url: &str) -> (u16, Value) {
    let resp = app
        .client
        .put(app.api("/upload_hook"))
        .bearer_auth(key)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn upload(app: &TestApp, path: &str, body: &str) -> (u16, Value) {
    let resp = app
        .upload(&app.secret, path, body.as_bytes().to_vec())
        .await;
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn hook_management(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let hook = Hook::start().await;
    let reader = app.key(KeyType::Secret, &["/*:read,create"]).await;
    assert_eq!(
        set_hook(&app, &reader, &hook.url).await.0,
        403,
        "admin only"
    );
    let (status, body) = set_hook(&app, &app.secret, "http://169.254.169.254/").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("url_not_allowed"))
    );
    let get = |key: String| {
        let req = app.client.get(app.api("/upload_hook")).bearer_auth(key);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(get(app.secret.clone()).await.status(), 404, "none yet");

    let (status, body) = set_hook(&app, &app.secret, &hook.url).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
    let shown: Value = get(app.secret.clone()).await.json().await.unwrap();
    assert_eq!(shown["url"], hook.url.as_str());
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );

    let del = app
        .client
        .delete(app.api("/upload_hook"))
        .bearer_auth(&app.secret);
    assert_eq!(del.send().await.unwrap().status(), 204);
    assert_eq!(get(app.secret.clone()).await.status(), 404);
    assert_eq!(
        upload(&app, "/after.txt", "x").await.0,
        200,
        "no hook: allowed"
    );
    assert!(hook.calls().is_empty());
}
both!(hook_management);

async fn the_hook_allows_rewrites_and_refuses(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let hook = Hook::start().await;
    let (_, set) = set_hook(&app, &app.secret, &hook.url).await;
    let secret = set["secret"].as_str().unwrap().to_string();

    // Allowed: the call is signed and says what is about to be stored.
    assert_eq!(upload(&app, "/ok.txt", "hello").await.0, 200);
    let calls = hook.calls();
    assert_eq!(calls.len(), 1);
    verify(&secret, &calls[0]);
    let event = calls[0].json();
    assert_eq!(event["type"], "upload.authorize");
    let data = &event["data"];
    assert_eq!(
        (data["accountId"].as_str(), data["filePath"].as_str()),
        (Some(app.account.as_str()), Some("/ok.txt"))
    );
    assert_eq!(data["size"], 5);
    assert_eq!(data["principal"]["type"], "key");
    assert!(data["principal"]["keyId"].is_string(), "{data}");

    // Rewritten: the hook's path, metadata and tags are what is stored.
    let rewrite = json!({"filePath": "/hooked/x.txt", "metadata": {"by": "hook"}, "tags": ["h"]});
    hook.reply(200, rewrite, 0);
    let (status, body) = upload(&app, "/asked.txt", "rewritten").await;
    assert_eq!(
        (status, body["filePath"].clone()),
        (200, json!("/hooked/x.txt")),
        "{body}"
    );
    assert_eq!(app.get_bytes("/hooked/x.txt").await.1, b"rewritten");
    assert_eq!(app.get_bytes("/asked.txt").await.0, 404);
    let details: Value = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/hooked/x.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (details["metadata"]["by"].clone(), details["tags"].clone()),
        (json!("hook"), json!(["h"]))
    );

    // A path the credential may not create is refused as usual.
    let limited = app.key(KeyType::Secret, &["/hooked/*:create"]).await;
    hook.reply(200, json!({"filePath": "/elsewhere/x.txt"}), 0);
    let resp = app.upload(&limited, "/hooked/y.txt", b"y".to_vec()).await;
    assert_eq!(resp.status(), 403);

    // Refused: 403 upload_rejected with the hook's message; nothing stored.
    let before = app.blob_keys().await.len();
    hook.reply(422, json!({"message": "no cats allowed"}), 0);
    let (status, body) = upload(&app, "/cat.txt", "meow").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("upload_rejected")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no cats allowed"));
    let begin = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": 10, "protocol": "1.1", "path": "/cat2.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(begin.status(), 403, "multipart begin asks the hook too");
    let tus = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .header("upload-metadata", "filename Y2F0My50eHQ=")
        .send()
        .await
        .unwrap();
    assert_eq!(tus.status(), 403, "tus creation asks the hook too");
    assert_eq!(app.blob_keys().await.len(), before, "nothing kept");
}
both!(the_hook_allows_rewrites_and_refuses);

async fn an_unanswering_hook_is_503(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let hook = Hook::start().await;
    set_hook(&app, &app.secret, &hook.url).await;
    hook.reply(500, json!({"message": "boom"}), 0);
    let (status, body) = upload(&app, "/a.txt", "a").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, json!("upload_hook_unavailable")),
        "{body}"
    );

    hook.reply(200, Value::Null, 6000);
    let started = std::time::Instant::now();
    let (status, body) = upload(&app, "/b.txt", "b").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, json!("upload_hook_unavailable")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "gave up after 5 s"
    );
    assert!(app.blob_keys().await.is_empty());
}
both!(an_unanswering_hook_is_503);

async fn test_hook(app: &TestApp, key: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.api("/upload_hook/test"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// `POST …/upload_hook/test` (the dashboard's "Test hook"): the hook gets a
/// signed `upload.authorize` for an empty `/upload-hook-test.txt`, the
/// answer is reported, nothing is stored.
async fn the_test_call_reports_the_answer(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let hook = Hook::start().await;
    assert_eq!(test_hook(&app, &app.secret).await.0, 404, "no hook yet");
    let (_, set) = set_hook(&app, &app.secret, &hook.url).await;
    let secret = set["secret"].as_str().unwrap().to_string();
    let reader = app.key(KeyType::Secret, &["/*:read,create"]).await;
    assert_eq!(test_hook(&app, &reader).await.0, 403, "admin only");
    assert!(hook.calls().is_empty());

    hook.reply(200, json!({"filePath": "/elsewhere.txt"}), 0);
    let (status, body) = test_hook(&app, &app.secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["outcome"].clone(), body["filePath"].clone()),
        (json!("allowed"), json!("/elsewhere.txt"))
    );
    let calls = hook.calls();
    assert_eq!(calls.len(), 1);
    verify(&secret, &calls[0]);
    let event = calls[0].json();
    assert_eq!(event["type"], "upload.authorize");
    assert_eq!(event["data"]["filePath"], "/upload-hook-test.txt");
    assert_eq!(event["data"]["size"], 0);
    assert_eq!(event["data"]["metadata"], json!({"stowageTest": true}));

    hook.reply(422, json!({"message": "no tests here"}), 0);
    let (status, body) = test_hook(&app, &app.secret).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"outcome": "rejected", "status": 422, "message": "no tests here"})
        )
    );
    hook.reply(500, Value::Null, 0);
    let (status, body) = test_hook(&app, &app.secret).await;
    assert_eq!(
        (status, body["outcome"].clone()),
        (200, json!("unavailable"))
    );
    assert!(body["message"].as_str().unwrap().contains("500"), "{body}");
    assert!(app.blob_keys().await.is_empty(), "a test stores nothing");
    assert_eq!(app.get_bytes("/elsewhere.txt").await.0, 404);
}
both!(the_test_call_reports_the_answer);
