//! Faults and operations: the database going away, graceful drain, metrics,
//! two nodes sharing one deployment.

use crate::both;
use crate::common::{postgres_url, sha256_hex, Backend, Options, TestApp};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to PostgreSQL that the test can cut and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (u, c) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !u.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy { addr, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_then_recovers() {
    let Some(url) = postgres_url() else { return };
    let u = url::Url::parse(&url).unwrap();
    let target = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    let app = TestApp::spawn_with(
        Backend::Postgres,
        Options {
            postgres_via: Some(proxy.addr),
            ..Options::default()
        },
    )
    .await;
    app.put("/o.txt", b"before").await;
    let details = || async {
        app.client
            .get(app.api("/files/details"))
            .query(&[("filePath", "/o.txt")])
            .bearer_auth(&app.secret)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(details().await.status(), 200);
    proxy.cut();
    let resp = details().await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert!(
        !body.to_string().contains("5432"),
        "internals leaked: {body}"
    );
    let resp = app.upload(&app.secret, "/during.txt", "x").await;
    assert_eq!(resp.status(), 503);
    let resp = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    proxy.restore();
    let start = Instant::now();
    while details().await.status() != 200 {
        assert!(start.elapsed() < Duration::from_secs(15), "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.put("/after.txt", b"after").await;
    assert_eq!(app.get_bytes("/o.txt").await.1, b"before");
    assert!(
        app.blob_keys().await.len() <= 2 + 1,
        "the failed upload's bytes"
    );
    crate::common::TestApp::eventually(Duration::from_secs(5), "failed upload cleaned", || async {
        app.blob_keys().await.len() == 2
    })
    .await;
}

async fn drain_lets_a_download_finish(b: Backend) {
    let mut app = TestApp::spawn_with(
        b,
        Options {
            cache_max_file_size: 0,
            ..Options::default()
        },
    )
    .await;
    let data: Vec<u8> = (0..64u32 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    app.put("/big.bin", &data).await;
    let mut resp = app.client.get(app.raw("/big.bin")).send().await.unwrap();
    let mut got = Vec::new();
    got.extend(resp.chunk().await.unwrap().unwrap());
    app.begin_shutdown();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got.extend(chunk);
        if got.len() < 8 * 1024 * 1024 {
            tokio::time::sleep(Duration::from_millis(5)).await; // a slow reader
        }
    }
    assert_eq!(got.len(), data.len());
    assert_eq!(sha256_hex(&got), sha256_hex(&data));
    app.stopped().await.unwrap();
    assert!(
        app.client.get(app.raw("/big.bin")).send().await.is_err(),
        "still accepting after shutdown"
    );
}
both!(drain_lets_a_download_finish);

async fn metrics_are_exported(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/m.txt", b"metrics").await;
    app.get_bytes("/m.txt").await;
    app.get_bytes("/m.txt").await;
    let resp = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    for needle in [
        "stowage_http_requests_total{route=\"/{account}/raw/{*path}\",method=\"GET\",status=\"200\"}",
        "stowage_http_requests_total{route=\"/v2/accounts/{account}/uploads/binary\",method=\"POST\",status=\"200\"}",
        "stowage_http_request_duration_seconds_bucket{route=\"/{account}/raw/{*path}\",method=\"GET\",le=\"0.001\"}",
        "stowage_bytes_in_total",
        "stowage_bytes_out_total",
        "stowage_uploads_in_flight",
        "stowage_cache_lookups_total{cache=\"files\",result=\"hit\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}
both!(metrics_are_exported);

async fn two_nodes_share_files(b: Backend) {
    let a = TestApp::spawn(b).await;
    let node_b = a.spawn_peer().await;
    a.put("/shared.txt", b"from A").await;
    assert_eq!(node_b.get_bytes("/shared.txt").await.1, b"from A");
    // An overwrite on B is seen by A within a second (A may have it cached).
    node_b.put("/shared.txt", b"from B").await;
    let start = Instant::now();
    while a.get_bytes("/shared.txt").await.1 != b"from B" {
        assert!(start.elapsed() < Duration::from_millis(1100));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A delete on A is a 404 on B within a second.
    let resp = a
        .client
        .delete(a.api("/files"))
        .query(&[("filePath", "/shared.txt")])
        .bearer_auth(&a.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let start = Instant::now();
    while node_b.get_bytes("/shared.txt").await.0 != 404 {
        assert!(start.elapsed() < Duration::from_millis(1100));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
both!(two_nodes_share_files);

/// Single-use tokens are shared state: spent on node A, refused on node B.
async fn spent_tokens_are_refused_on_another_node(b: Backend) {
    let a = TestApp::spawn(b).await;
    let node_b = a.spawn_peer().await;
    // An upload token.
    let resp = a
        .client
        .post(format!("{}/token", a.url))
        .bearer_auth(&a.secret)
        .json(&serde_json::json!({"path": "/t/x.txt"}))
        .send()
        .await
        .unwrap();
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let upload = |app: &TestApp| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"t".to_vec()).file_name("x.txt"),
        );
        app.client
            .post(format!("{}/", app.url))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    assert_eq!(upload(&a).await.unwrap().status(), 200);
    let resp = upload(&node_b).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "token_already_used"
    );
    // An ImageKit V2 token.
    let (row, secret) = stowage::domain::keys::create_signing_key(
        a.state.meta.as_ref(),
        a.state.master_key(),
        &a.account,
        "",
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(row.kid.clone());
    let claims = serde_json::json!({"fileName": "ik.png", "iat": now, "exp": now + 600});
    let jwt = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let ik = |app: &TestApp| {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"i".to_vec()).file_name("ik.png"),
            )
            .text("fileName", "ik.png")
            .text("token", jwt.clone());
        app.client
            .post(format!("{}/api/v2/files/upload", app.url))
            .multipart(form)
            .send()
    };
    assert_eq!(ik(&a).await.unwrap().status(), 200);
    assert_eq!(ik(&node_b).await.unwrap().status(), 401);
}
both!(spent_tokens_are_refused_on_another_node);
