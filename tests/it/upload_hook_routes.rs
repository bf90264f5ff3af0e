//! Issue #26: the upload hook is asked on every upload route, and its answer
//! is honoured there: `uploads/form_data` (once per file), the ImageKit
//! upload (`/api/v1|v2/files/upload`), the root form (`POST /`) and uploads
//! from a URL (`uploads/url`, asked before the source is fetched). The hook
//! is a real HTTP server on loopback that decides by the asked path: a
//! `reject` in it is refused (422 with a message), a `rewrite` in it is
//! moved under `/hooked/`, anything else allowed. Every call's signature is
//! checked with the `standardwebhooks` crate.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::webhooks::{loopback, verify, Received};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type Calls = Arc<Mutex<Vec<Received>>>;

async fn decide(State(calls): State<Calls>, headers: HeaderMap, body: String) -> Response {
    let event: Value = serde_json::from_str(&body).unwrap();
    calls.lock().unwrap().push(Received { headers, body });
    let path = event["data"]["filePath"].as_str().unwrap_or("").to_string();
    if path.contains("reject") {
        let message = format!("not {path}, says the hook");
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({ "message": message })),
        )
            .into_response();
    }
    if path.contains("rewrite") {
        let name = path.rsplit('/').next().unwrap();
        return axum::Json(json!({"filePath": format!("/hooked/{name}"), "tags": ["hooked"]}))
            .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The hook server, set as the app's upload hook; returns its calls and secret.
async fn hook(app: &TestApp) -> (Calls, String) {
    let calls = Calls::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/authorize", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/authorize", axum::routing::post(decide))
        .with_state(calls.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let resp = app
        .client
        .put(app.api("/upload_hook"))
        .bearer_auth(&app.secret)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (calls, body["secret"].as_str().unwrap().to_string())
}

/// The asked paths of the calls so far, each call's signature checked.
fn asked(calls: &Calls, secret: &str) -> Vec<String> {
    let calls = calls.lock().unwrap();
    calls
        .iter()
        .map(|c| {
            verify(secret, c);
            let e = c.json();
            assert_eq!(e["type"], "upload.authorize");
            e["data"]["filePath"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.get_bytes(path).await.0.as_u16()
}

fn part(bytes: &[u8], name: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string())
}

async fn form_data_asks_once_per_file(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let (calls, secret) = hook(&app).await;
    let form = reqwest::multipart::Form::new()
        .part("a", part(b"kept", "keep.txt"))
        .part("b", part(b"refused", "reject.txt"))
        .part("c", part(b"moved", "rewrite.txt"));
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .query(&[
            ("folderPath", "/f"),
            ("fileName", "{ORIGINAL_FILE_NAME}{ORIGINAL_FILE_EXT}"),
        ])
        .bearer_auth(&app.secret)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let files: Vec<&str> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filePath"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["/f/keep.txt", "/hooked/rewrite.txt"], "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["formDataFieldName"], "b");
    assert_eq!(errors[0]["error"]["code"], "upload_rejected");
    let message = errors[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("not /f/reject.txt, says the hook"),
        "{message}"
    );
    let seen = asked(&calls, &secret);
    assert_eq!(
        seen[seen.len() - 3..],
        ["/f/keep.txt", "/f/reject.txt", "/f/rewrite.txt"]
    );
    assert_eq!(app.get_bytes("/f/keep.txt").await.1, b"kept");
    assert_eq!(app.get_bytes("/hooked/rewrite.txt").await.1, b"moved");
    assert_eq!(status_of(&app, "/f/reject.txt").await, 404);
    assert_eq!(status_of(&app, "/f/rewrite.txt").await, 404);
}
both!(form_data_asks_once_per_file);

/// ImageKit's route: refused in ImageKit's error shape (403 with `message`),
/// allowed and moved files stored where the hook says.
async fn imagekit_upload_asks(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let (calls, secret) = hook(&app).await;
    let post = |name: &'static str| {
        let form = reqwest::multipart::Form::new()
            .part("file", part(name.as_bytes(), name))
            .text("fileName", name)
            .text("folder", "/ik")
            .text("useUniqueFileName", "false");
        app.client
            .post(format!("{}/api/v1/files/upload", app.url))
            .basic_auth(&app.secret, Some(""))
            .multipart(form)
            .send()
    };
    let resp = post("reject.png").await.unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("not /ik/reject.png, says the hook"), "{v}");
    assert!(v["help"].is_string() && v.get("error").is_none(), "{v}");
    assert_eq!(status_of(&app, "/ik/reject.png").await, 404);

    let resp = post("rewrite.png").await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["filePath"], "/hooked/rewrite.png", "{v}");
    assert_eq!(v["tags"], json!(["hooked"]));
    assert_eq!(app.get_bytes("/hooked/rewrite.png").await.1, b"rewrite.png");
    let resp = post("keep.png").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.get_bytes("/ik/keep.png").await.1, b"keep.png");
    assert_eq!(
        asked(&calls, &secret),
        ["/ik/reject.png", "/ik/rewrite.png", "/ik/keep.png"]
    );
    assert_eq!(
        app.blob_keys().await.len(),
        2,
        "nothing of the refused file"
    );
}
both!(imagekit_upload_asks);

/// `POST /` (the root form, SPEC §5.4) with an API key.
async fn root_form_asks(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let (calls, secret) = hook(&app).await;
    let post = |path: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("path", path)
            .part("file", part(path.as_bytes(), "f.bin"));
        app.client
            .post(format!("{}/", app.url))
            .bearer_auth(&app.secret)
            .multipart(form)
            .send()
    };
    let resp = post("/root/reject.bin").await.unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upload_rejected", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not /root/reject.bin, says the hook"));
    assert_eq!(status_of(&app, "/root/reject.bin").await, 404);

    let resp = post("/root/rewrite.bin").await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["path"], "/hooked/rewrite.bin", "{v}");
    assert_eq!(
        app.get_bytes("/hooked/rewrite.bin").await.1,
        b"/root/rewrite.bin"
    );
    assert_eq!(post("/root/keep.bin").await.unwrap().status(), 200);
    assert_eq!(app.get_bytes("/root/keep.bin").await.1, b"/root/keep.bin");
    assert_eq!(
        asked(&calls, &secret),
        ["/root/reject.bin", "/root/rewrite.bin", "/root/keep.bin"]
    );
    assert_eq!(app.blob_keys().await.len(), 2);
}
both!(root_form_asks);

/// A source whose `/src.bin` answers at once and whose `/slow.bin` sends
/// its headers at once but its body only after 10 s; returns its base URL
/// and how many requests reached it.
async fn source() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (fast, slow) = (hits.clone(), hits.clone());
    let router = axum::Router::new()
        .route(
            "/src.bin",
            axum::routing::get(move || {
                fast.fetch_add(1, Ordering::SeqCst);
                async { "source bytes" }
            }),
        )
        .route(
            "/slow.bin",
            axum::routing::get(move || {
                slow.fetch_add(1, Ordering::SeqCst);
                let body = futures::stream::once(async {
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"late bytes"))
                });
                async move { axum::body::Body::from_stream(body) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, hits)
}

/// `uploads/url`: the hook is asked once the source's headers are in (its
/// type and length are part of the question) and before a byte of its body
/// is read: a refusal is answered while the body has not even been sent.
async fn url_upload_asks_before_the_body(b: Backend) {
    let app = TestApp::spawn_with(b, loopback()).await;
    let (calls, secret) = hook(&app).await;
    let (base, hits) = source().await;
    let post = |src: &'static str, path: &'static str| {
        app.client
            .post(app.api("/uploads/url"))
            .bearer_auth(&app.secret)
            .json(&json!({"url": format!("{base}{src}"), "path": path}))
            .send()
    };
    let started = std::time::Instant::now();
    let resp = post("/slow.bin", "/url/reject.bin").await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused before the body: {:?}",
        started.elapsed()
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upload_rejected", "{v}");
    assert_eq!(status_of(&app, "/url/reject.bin").await, 404);

    let resp = post("/src.bin", "/url/rewrite.bin").await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["filePath"], "/hooked/rewrite.bin", "{v}");
    assert_eq!(
        app.get_bytes("/hooked/rewrite.bin").await.1,
        b"source bytes"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        asked(&calls, &secret),
        ["/url/reject.bin", "/url/rewrite.bin"]
    );
    let data = calls.lock().unwrap()[1].json()["data"].clone();
    assert_eq!(
        (data["size"].clone(), data["principal"]["type"].clone()),
        (json!(12), json!("key")),
        "{data}"
    );
    assert_eq!(app.blob_keys().await.len(), 1, "nothing of the refused one");
}
both!(url_upload_asks_before_the_body);
