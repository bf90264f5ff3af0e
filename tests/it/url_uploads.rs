//! SPEC §5.7: uploads from a URL. The sources are servers this test starts
//! on loopback, reachable only because the test lists 127.0.0.0/8 in
//! STOWAGE_FETCH_ALLOWED_NETWORKS; without it every spelling of them is
//! refused before anything is sent.

use crate::both;
use crate::common::{sha256_hex, Backend, Options, TestApp};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stowage::auth::keys::KeyType;

/// The bytes every source serves.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot-really-a-png-but-bytes";

/// A source server and how many requests reached it.
struct Source {
    base: String,
    port: u16,
    hits: Arc<AtomicUsize>,
}

async fn file(headers: HeaderMap) -> Response {
    let _ = headers;
    ([(header::CONTENT_TYPE, "image/png; charset=binary")], PNG).into_response()
}

async fn named() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
            ),
        ],
        "hello",
    )
        .into_response()
}

/// `n` more redirects, then the file.
async fn hops(Path(n): Path<u32>) -> Response {
    let to = match n {
        0 => "/a.png".to_string(),
        n => format!("/hops/{}", n - 1),
    };
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn to_metadata() -> Response {
    let to = "http://169.254.169.254/latest/meta-data/";
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// Declares 5000 bytes.
async fn big_declared() -> Response {
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        vec![7u8; 5000],
    )
        .into_response()
}

/// 5000 bytes without a length (chunked).
async fn big_chunked() -> Response {
    let chunks = (0..5).map(|_| Ok::<_, std::io::Error>(vec![7u8; 1000]));
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

/// Headers at once, then a few bytes and nothing more.
async fn stalls() -> Response {
    let first = futures::stream::once(async { Ok::<_, std::io::Error>(vec![1u8; 10]) });
    let never = futures::stream::pending();
    Body::from_stream(first.chain(never)).into_response()
}

use futures::StreamExt;

async fn source() -> Source {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/a.png", get(file))
        .route("/named", get(named))
        .route("/hops/{n}", get(hops))
        .route("/metadata", get(to_metadata))
        .route("/big", get(big_declared))
        .route("/chunked", get(big_chunked))
        .route("/stalls", get(stalls))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .layer(axum::middleware::from_fn_with_state(
            hits.clone(),
            |State(hits): State<Arc<AtomicUsize>>, req, next: axum::middleware::Next| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                next.run(req).await
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Source {
        base: format!("http://127.0.0.1:{port}"),
        port,
        hits,
    }
}

fn allowed() -> Options {
    Options {
        fetch_allowed_networks: "127.0.0.0/8".into(),
        ..Options::default()
    }
}

async fn from_url(app: &TestApp, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = app.client.post(app.api("/uploads/url")).json(&body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn details(app: &TestApp, path: &str) -> Value {
    app.client
        .get(app.api("/files/details"))
        .query(&[("filePath", path)])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn fetched_files_are_stored_like_uploads(b: Backend) {
    let app = TestApp::spawn_with(b, allowed()).await;
    let src = source().await;
    let url = format!("{}/a.png", src.base);
    let body = json!({"url": url, "path": "/from/url.png", "metadata": {"k": 1}, "tags": ["t"]});
    let (status, up) = from_url(&app, Some(&app.secret), body).await;
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["filePath"], "/from/url.png");
    assert_eq!(up["etag"], sha256_hex(PNG));
    let (status, bytes) = app.get_bytes("/from/url.png").await;
    assert_eq!((status.as_u16(), bytes.as_slice()), (200, PNG));
    let d = details(&app, "/from/url.png").await;
    assert_eq!(d["mime"], "image/png", "parameters dropped: {d}");
    assert_eq!(d["originalFileName"], "a.png", "the URL's last segment");
    assert_eq!(
        (d["metadata"]["k"].clone(), d["tags"].clone()),
        (json!(1), json!(["t"]))
    );

    // The name from Content-Disposition, the default folder; the request's
    // mime wins over the source's.
    let body = json!({"url": format!("{}/named", src.base), "mime": "text/markdown"});
    let (status, up) = from_url(&app, Some(&app.secret), body).await;
    assert_eq!(status, 200, "{up}");
    let d = details(&app, up["filePath"].as_str().unwrap()).await;
    assert_eq!(
        (d["originalFileName"].clone(), d["mime"].clone()),
        (json!("résumé.txt"), json!("text/markdown"))
    );
    assert_eq!(d["size"], 5);

    // Five redirects are followed; the same bytes are deduplicated.
    let body = json!({"url": format!("{}/hops/4", src.base), "path": "/from/hops.png"});
    let (status, up) = from_url(&app, Some(&app.secret), body).await;
    assert_eq!(
        (status, up["etag"].clone()),
        (200, json!(sha256_hex(PNG))),
        "{up}"
    );
    assert_eq!(
        app.blob_keys().await.len(),
        2,
        "a.png and hops.png share one blob"
    );
}
both!(fetched_files_are_stored_like_uploads);

/// Every spelling of the loopback address, other schemes and redirects to
/// the cloud metadata address are refused, and nothing is stored.
async fn private_addresses_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let src = source().await;
    let p = src.port;
    for url in [
        format!("http://127.0.0.1:{p}/a.png"),
        format!("http://localhost:{p}/a.png"),
        format!("http://0:{p}/a.png"),
        format!("http://2130706433:{p}/a.png"),
        format!("http://0177.0.0.1:{p}/a.png"),
        format!("http://[::ffff:127.0.0.1]:{p}/a.png"),
        format!("http://[::1]:{p}/a.png"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "file:///etc/passwd".to_string(),
        "ftp://example.com/a".to_string(),
        "not a url".to_string(),
    ] {
        let (status, body) = from_url(&app, Some(&app.secret), json!({"url": url})).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("url_not_allowed")),
            "{url}: {body}"
        );
        assert!(body["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("STOWAGE_FETCH_ALLOWED_NETWORKS"));
    }
    assert_eq!(
        src.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the source"
    );

    // Open only 127.0.0.1/32: a redirect to 169.254.169.254 and a sixth hop are refused.
    let app = TestApp::spawn_with(
        b,
        Options {
            fetch_allowed_networks: "127.0.0.1/32".into(),
            ..Options::default()
        },
    )
    .await;
    for path in ["/metadata", "/hops/5"] {
        let url = format!("{}{path}", src.base);
        let (status, body) = from_url(&app, Some(&app.secret), json!({"url": url})).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("url_not_allowed")),
            "{path}: {body}"
        );
    }
    assert!(app.blob_keys().await.is_empty());
}
both!(private_addresses_are_refused);

async fn failures_keep_nothing(b: Backend) {
    let opts = Options {
        max_file_size: 4096,
        body_timeout: 1,
        ..allowed()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let src = source().await;
    let url = |p: &str| json!({"url": format!("{}{p}", src.base)});

    let (status, body) = from_url(&app, Some(&app.secret), url("/missing")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (502, json!("url_fetch_failed")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["status"], 404);

    for p in ["/big", "/chunked"] {
        let (status, body) = from_url(&app, Some(&app.secret), url(p)).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (413, json!("file_too_large")),
            "{p}: {body}"
        );
    }

    let started = std::time::Instant::now();
    let (status, body) = from_url(&app, Some(&app.secret), url("/stalls")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (504, json!("url_fetch_timeout")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    // A closed port: the connection fails.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = closed.local_addr().unwrap().port();
    drop(closed);
    let body = json!({"url": format!("http://127.0.0.1:{gone}/x")});
    let (status, body) = from_url(&app, Some(&app.secret), body).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (502, json!("url_fetch_failed")),
        "{body}"
    );

    TestApp::eventually(Duration::from_secs(10), "no bytes kept", || async {
        app.blob_keys().await.is_empty()
    })
    .await;
}
both!(failures_keep_nothing);

/// Permission is decided before the source is asked anything.
async fn permission_before_the_fetch(b: Backend) {
    let app = TestApp::spawn_with(b, allowed()).await;
    let src = source().await;
    let url = format!("{}/a.png", src.base);
    let (status, body) = from_url(&app, None, json!({"url": url})).await;
    assert_eq!(status, 401, "{body}");
    let reader = app.key(KeyType::Secret, &["/*:read"]).await;
    let (status, body) = from_url(&app, Some(&reader), json!({"url": url})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        src.hits.load(Ordering::SeqCst),
        0,
        "the source was never asked"
    );

    // An existing file is replaced only with overwrite.
    let (status, _) = from_url(
        &app,
        Some(&app.secret),
        json!({"url": url, "path": "/x.png"}),
    )
    .await;
    assert_eq!(status, 200);
    let creator = app.key(KeyType::Secret, &["/*:create"]).await;
    let (status, body) =
        from_url(&app, Some(&creator), json!({"url": url, "path": "/x.png"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("file_already_exists")),
        "{body}"
    );
}
both!(permission_before_the_fetch);

async fn imagekit_form(app: &TestApp, file: &str, basic: Option<&str>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("file", file.to_string())
        .text("fileName", "remote.png")
        .text("useUniqueFileName", "false");
    let mut req = app
        .client
        .post(format!("{}/api/v1/files/upload", app.url))
        .multipart(form);
    if let Some(key) = basic {
        req = req.basic_auth(key, Some(""));
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// ImageKit's `file` may be a URL: fetched once the form's credentials are
/// checked, under the same rules.
async fn imagekit_remote_files(b: Backend) {
    let app = TestApp::spawn_with(b, allowed()).await;
    let src = source().await;
    let url = format!("{}/a.png", src.base);
    let (status, body) = imagekit_form(&app, &url, None).await;
    assert!(status == 401 || status == 403, "{status} {body}");
    assert_eq!(
        src.hits.load(Ordering::SeqCst),
        0,
        "no token: never fetched"
    );

    let (status, body) = imagekit_form(&app, &url, Some(&app.secret)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["filePath"], "/remote.png");
    assert_eq!(app.get_bytes("/remote.png").await.1, PNG);

    let (status, body) = imagekit_form(&app, "http://169.254.169.254/x", Some(&app.secret)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("not allowed"),
        "{body}"
    );
    // Base64 still works beside URLs.
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
    let (status, body) = imagekit_form(&app, &b64, Some(&app.secret)).await;
    assert_eq!(
        (status, body["size"].clone()),
        (200, json!(PNG.len())),
        "{body}"
    );
}
both!(imagekit_remote_files);

/// A server on `addr` that counts requests and redirects every one to `to`.
async fn redirector(addr: &str, to: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new().fallback(move || {
        let (to, counted) = (to.clone(), counted.clone());
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

/// Redirects out of the allowed network never reach the second host; a
/// redirect loop ends; an endless body ends at the size limit.
async fn redirects_loops_and_endless_bodies(b: Backend) {
    let opts = Options {
        fetch_allowed_networks: "127.0.0.1/32".into(),
        max_file_size: 1024 * 1024,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    // 127.0.0.2 is loopback too, but outside 127.0.0.1/32.
    let (outside, outside_hits) = redirector("127.0.0.2:0", "http://127.0.0.1:9/".into()).await;
    let (inside, inside_hits) = redirector("127.0.0.1:0", format!("{outside}/x")).await;
    let (status, body) = from_url(
        &app,
        Some(&app.secret),
        json!({"url": format!("{inside}/a")}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("url_not_allowed")),
        "{body}"
    );
    assert_eq!(inside_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        outside_hits.load(Ordering::SeqCst),
        0,
        "the second host was never contacted"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let looped = format!("http://{}/loop", listener.local_addr().unwrap());
    let target = looped.clone();
    let app_loop = Router::new().fallback(move || {
        let to = target.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, to)]).into_response() }
    });
    tokio::spawn(async move { axum::serve(listener, app_loop).await.unwrap() });
    let (status, body) = from_url(&app, Some(&app.secret), json!({"url": looped})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("url_not_allowed")),
        "{body}"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endless = format!("http://{}/", listener.local_addr().unwrap());
    let app_endless = Router::new().fallback(|| async {
        let chunks = futures::stream::repeat_with(|| Ok::<_, std::io::Error>(vec![9u8; 64 * 1024]));
        Body::from_stream(chunks).into_response()
    });
    tokio::spawn(async move { axum::serve(listener, app_endless).await.unwrap() });
    let (status, body) = from_url(&app, Some(&app.secret), json!({"url": endless})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (413, json!("file_too_large")),
        "{body}"
    );
    TestApp::eventually(Duration::from_secs(10), "no bytes kept", || async {
        app.blob_keys().await.is_empty()
    })
    .await;
}
both!(redirects_loops_and_endless_bodies);
