//! SPEC §8 "Bounded work per request": field, part and body-time limits,
//! refusals before the body is read, strict UTF-8 in URLs, connection bounds.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use serde_json::Value;
use std::time::{Duration, Instant};
use stowage::auth::keys::KeyType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a connection and sends `head` plus `body` without ending the body.
pub async fn open_request(app: &TestApp, head: &str, body: &[u8]) -> TcpStream {
    let addr = app.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    s
}

/// Reads one response (head and a Content-Length body) within `limit`, while
/// the request body is still open. Returns (status, JSON body).
pub async fn read_response(s: &mut TcpStream, limit: Duration) -> (u16, Value, String) {
    let mut buf = Vec::new();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body =
                    serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or(Value::Null);
                return (status, body, head);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(left, s.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no response within {limit:?}: {:?}",
                    String::from_utf8_lossy(&buf)
                )
            })
            .unwrap();
        assert!(
            n > 0,
            "closed without a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn head(app: &TestApp, method: &str, path: &str, extra: &[&str]) -> String {
    let host = app.url.trim_start_matches("http://");
    let mut h = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n");
    for e in extra {
        h.push_str(e);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h
}

/// A chunked-encoding chunk.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\r\n");
    v
}

async fn refused_before_the_body(b: Backend) {
    let app = TestApp::spawn(b).await;
    let reader = app.key(KeyType::Public, &["/**:read"]).await;
    let path = format!(
        "/v2/accounts/{}/uploads/binary?filePath=/x/a.bin",
        app.account
    );
    let auth = format!("authorization: Bearer {reader}");
    // A body that never ends: the answer cannot wait for it.
    let mut s = open_request(
        &app,
        &head(&app, "POST", &path, &[&auth, "transfer-encoding: chunked"]),
        &chunk(&[7u8; 4096]),
    )
    .await;
    let (status, body, _) = read_response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    // form_data: anonymous, and a key that may create nothing.
    let path = format!("/v2/accounts/{}/uploads/form_data", app.account);
    let ct = "content-type: multipart/form-data; boundary=XyZ";
    for (auth, want) in [(None, 401), (Some(&reader), 403)] {
        let a = auth.map(|k| format!("authorization: Bearer {k}"));
        let mut hs = vec![ct, "transfer-encoding: chunked"];
        if let Some(a) = &a {
            hs.push(a);
        }
        // Not even the first part's head arrives: the answer cannot come from it.
        let mut s = open_request(&app, &head(&app, "POST", &path, &hs), &chunk(b"--Xy")).await;
        let (status, body, _) = read_response(&mut s, Duration::from_secs(5)).await;
        assert_eq!(status, want, "{body}");
    }
    // Nothing was stored.
    assert!(app.blob_keys().await.is_empty());
}
both!(refused_before_the_body);

async fn form_limits(b: Backend) {
    let app = TestApp::spawn(b).await;
    // A huge text field, anonymously, to the ImageKit route: 413 once 64 KiB
    // have passed, while the client is still sending.
    let mut s = open_request(
        &app,
        &head(
            &app,
            "POST",
            "/api/v2/files/upload",
            &[
                "content-type: multipart/form-data; boundary=XyZ",
                "transfer-encoding: chunked",
            ],
        ),
        &chunk(b"--XyZ\r\ncontent-disposition: form-data; name=\"fileName\"\r\n\r\n"),
    )
    .await;
    let started = Instant::now();
    let writer = async {
        for _ in 0..64 {
            if s.write_all(&chunk(&[b'a'; 16 * 1024])).await.is_err() {
                break;
            }
        }
    };
    writer.await;
    let (status, body, _) = read_response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("fileName"),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // 1001 tiny parts → 413 too_many_parts.
    let mut form = String::new();
    for i in 0..1001 {
        form.push_str(&format!(
            "--XyZ\r\ncontent-disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n"
        ));
    }
    form.push_str("--XyZ--\r\n");
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .bearer_auth(&app.secret)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_many_parts", "{v}");

    // Metadata over 64 KiB.
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/m/a.txt")])
        .bearer_auth(&app.secret)
        .header(
            "x-upload-metadata",
            format!("{{\"a\":\"{}\"}}", "x".repeat(70_000)),
        )
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "field_too_large", "{v}");
    assert!(app.blob_keys().await.is_empty());
}
both!(form_limits);

async fn anonymous_form_data_stops_at_the_first_part(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut form = reqwest::multipart::Form::new();
    for i in 0..50 {
        form = form.part(
            format!("f{i}"),
            reqwest::multipart::Part::bytes(vec![1u8; 1000]).file_name(format!("{i}.bin")),
        );
    }
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .query(&[("filePath", "/anon/a.bin")])
        .multipart(form)
        .send()
        .await;
    // The 401 goes out before the body is read; the server then closes the
    // connection, so a client still writing may see the reset instead.
    match resp {
        Ok(resp) => {
            assert_eq!(resp.status(), 401);
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthorized", "{v}");
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    assert!(app.blob_keys().await.is_empty());
}
both!(anonymous_form_data_stops_at_the_first_part);

async fn body_timeout(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            body_timeout: 1,
            ..Options::default()
        },
    )
    .await;
    let path = format!(
        "/v2/accounts/{}/uploads/binary?filePath=/slow/a.bin",
        app.account
    );
    let auth = format!("authorization: Bearer {}", app.secret);
    // 9 MiB declared (past the first store part), 8 MiB + 1 sent, then nothing.
    let mut s = open_request(
        &app,
        &head(&app, "POST", &path, &[&auth, "content-length: 9437184"]),
        &vec![1u8; 8 * 1024 * 1024 + 1],
    )
    .await;
    let started = Instant::now();
    let (status, body, resp_head) = read_response(&mut s, Duration::from_secs(10)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (408, Some("body_timeout")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["setting"], "STOWAGE_BODY_TIMEOUT");
    assert!(
        resp_head.to_ascii_lowercase().contains("x-request-id"),
        "{resp_head}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Nothing kept: no file, no bytes.
    assert_eq!(app.get_bytes("/slow/a.bin").await.0, 404);
    assert!(
        app.blob_keys().await.is_empty(),
        "{:?}",
        app.blob_keys().await
    );

    // The ImageKit shape on the ImageKit routes.
    let mut s = open_request(
        &app,
        &head(
            &app,
            "POST",
            "/api/v1/files/upload",
            &[
                "content-type: multipart/form-data; boundary=XyZ",
                "content-length: 100000",
            ],
        ),
        b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc",
    )
    .await;
    let (status, body, _) = read_response(&mut s, Duration::from_secs(10)).await;
    assert_eq!(status, 408, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("sent nothing"),
        "{body}"
    );
    assert!(app.state.blobs.list("imagekit").await.unwrap().is_empty());

    // A slow but steady body is not cut: 6 pieces, 0.5 s apart (3 s > timeout).
    let mut s = open_request(
        &app,
        &head(
            &app,
            "POST",
            &path.replace("a.bin", "b.bin"),
            &[&auth, "content-length: 6"],
        ),
        b"",
    )
    .await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.write_all(b"z").await.unwrap();
    }
    let (status, body, _) = read_response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get_bytes("/slow/b.bin").await.1, b"zzzzzz");
}
both!(body_timeout);

async fn invalid_utf8_in_paths(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/ok.txt", b"ok").await;
    let acc = &app.account;
    for bad in ["/a/%FF.txt", "/%C0%AE%C0%AE/x", "/a/%ED%A0%80", "/%80"] {
        let urls = [
            format!(
                "{}/v2/accounts/{acc}/uploads/binary?filePath={bad}",
                app.url
            ),
            format!("{}/v2/accounts/{acc}/files/details?filePath={bad}", app.url),
            format!(
                "{}/v2/accounts/{acc}/folders/list?folderPath={bad}",
                app.url
            ),
            format!("{}/{acc}/raw{bad}", app.url),
        ];
        for url in urls {
            let resp = app
                .client
                .post(&url)
                .bearer_auth(&app.secret)
                .body("x")
                .send()
                .await
                .unwrap();
            let resp = if url.contains("/raw") || url.contains("details") || url.contains("list") {
                app.client
                    .get(&url)
                    .bearer_auth(&app.secret)
                    .send()
                    .await
                    .unwrap()
            } else {
                resp
            };
            assert_eq!(resp.status(), 400, "{url}");
            assert_eq!(resp.headers()["content-type"], "application/json", "{url}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["error"]["code"], "invalid_path", "{url}: {v}");
        }
    }
    // Nothing was stored under a replaced name.
    let list: Value = app
        .client
        .get(app.api("/folders/list"))
        .query(&[
            ("folderPath", "/"),
            ("recursive", "true"),
            ("includeFiles", "true"),
        ])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    // Valid UTF-8 still works.
    let resp = app.upload(&app.secret, "/é/€.txt", b"euro".to_vec()).await;
    assert_eq!(resp.status(), 200);
}
both!(invalid_utf8_in_paths);

async fn upload_responses_carry_size_and_mime(b: Backend) {
    let app = TestApp::spawn(b).await;
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/r/a.txt")])
        .bearer_auth(&app.secret)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["size"].as_i64(), v["mime"].as_str()),
        (Some(5), Some("text/plain")),
        "{v}"
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"abc".to_vec())
            .file_name("b.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let v: Value = app
        .client
        .post(app.api("/uploads/form_data"))
        .query(&[("filePath", "/r/b.png")])
        .bearer_auth(&app.secret)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let f = &v["files"][0];
    assert_eq!(
        (f["size"].as_i64(), f["mime"].as_str()),
        (Some(3), Some("image/png")),
        "{v}"
    );
}
both!(upload_responses_carry_size_and_mime);

async fn made_up_methods_are_one_label(b: Backend) {
    let app = TestApp::spawn(b).await;
    let out = app
        .raw_http(b"FROBNICATE7 /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await;
    assert!(out.starts_with("HTTP/1.1 "), "{out}");
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("FROBNICATE7"),
        "a made-up method became a label"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}
both!(made_up_methods_are_one_label);

async fn connection_bounds(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            header_timeout: 1,
            max_connections: 2,
            ..Options::default()
        },
    )
    .await;
    // A connection that never finishes its head is closed.
    let started = Instant::now();
    let out = app.raw_http(b"GET /healthz HTTP/1.1\r\nhost: x\r\n").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!out.contains("200 OK"), "{out}");
    // Two idle connections fill the slots; a third waits until one goes.
    let addr = app.url.trim_start_matches("http://").to_string();
    let a = TcpStream::connect(&addr).await.unwrap();
    let _b = TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = {
        let client = app.client.clone();
        let url = format!("{}/healthz", app.url);
        tokio::spawn(async move {
            let t = Instant::now();
            let s = client.get(url).send().await.unwrap().status();
            (s, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "served past the connection cap");
    drop(a);
    let (status, waited) = third.await.unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
}
both!(connection_bounds);
