//! SPEC §5, §5.1, §5.2: direct uploads, limits, path rules, atomicity.

use crate::both;
use crate::common::{sha256_hex, Backend, Options, TestApp};
use serde_json::Value;
use std::time::Duration;

async fn binary_upload_round_trip(b: Backend) {
    let app = TestApp::spawn(b).await;
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[
            ("filePath", "/photos/a b.txt"),
            ("originalFileName", "orig.txt"),
        ])
        .bearer_auth(&app.secret)
        .header("content-type", "text/plain")
        .header("x-upload-metadata", r#"{"userId": 42}"#)
        .header("x-upload-tags", "one, two")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["accountId"], app.account);
    assert_eq!(body["filePath"], "/photos/a b.txt");
    assert_eq!(body["etag"], sha256_hex(b"hello world"));
    assert_eq!(
        body["fileUrl"],
        format!("{}/{}/raw/photos/a%20b.txt", app.url, app.account)
    );
    let (status, bytes) = app.get_bytes("/photos/a%20b.txt").await;
    assert_eq!(
        (status.as_u16(), bytes.as_slice()),
        (200, &b"hello world"[..])
    );

    let details: Value = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/photos/a b.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(details["size"], 11);
    assert_eq!(details["mime"], "text/plain");
    assert_eq!(details["originalFileName"], "orig.txt");
    assert_eq!(details["metadata"]["userId"], 42);
    assert_eq!(details["tags"], serde_json::json!(["one", "two"]));
    assert!(details["lastModified"].as_i64().unwrap() > 1_700_000_000_000);
}
both!(binary_upload_round_trip);

async fn path_validation_rejections(b: Backend) {
    let app = TestApp::spawn(b).await;
    let long_segment = format!("/{}", "x".repeat(256));
    let long_path = "/abcdefghi".repeat(103);
    for bad in [
        "relative.txt",
        "/a//b.txt",
        "/a/../b.txt",
        "/a/./b.txt",
        "/a\\b.txt",
        "/a\0b.txt",
        "/a\x07b.txt",
        "/dir/",
        long_segment.as_str(),
        long_path.as_str(),
    ] {
        let resp = app.upload(&app.secret, bad, "x").await;
        assert_eq!(resp.status(), 400, "{bad:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_path", "{bad:?}");
        assert!(body["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("absolute path"));
    }
    // Percent-encoded dot segments decode to '..' and are refused too.
    let resp = app
        .client
        .post(format!(
            "{}?filePath=/a/%2e%2e/b.txt",
            app.api("/uploads/binary")
        ))
        .bearer_auth(&app.secret)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Traversal on the CDN side, sent raw so no client normalizes it.
    for target in [
        "/raw/a/%2e%2e/b.txt",
        "/raw/a/../b.txt",
        "/raw//etc/passwd",
        "/raw/a%5Cb",
    ] {
        let req = format!(
            "GET /{}{target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            app.account
        );
        let answer = app.raw_http(req.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{target}: {answer}");
        assert!(answer.contains("invalid_path"), "{target}: {answer}");
    }
    assert!(
        app.blob_keys().await.is_empty(),
        "rejected uploads stored bytes"
    );
}
both!(path_validation_rejections);

async fn path_variables_and_defaults(b: Backend) {
    let app = TestApp::spawn(b).await;
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[
            ("folderPath", "/u/{UTC_YEAR}"),
            (
                "fileName",
                "{ORIGINAL_FILE_NAME}-{UNIQUE_DIGITS_4}{ORIGINAL_FILE_EXT}",
            ),
            ("originalFileName", "cat.png"),
        ])
        .bearer_auth(&app.secret)
        .body("png")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let path = body["filePath"].as_str().unwrap();
    let year = chrono::Utc::now().format("%Y").to_string();
    let prefix = format!("/u/{year}/cat-");
    assert!(
        path.starts_with(&prefix) && path.ends_with(".png"),
        "{path}"
    );
    assert_eq!(path.len(), prefix.len() + 4 + 4, "{path}");

    // No path at all: /uploads/{UTC_YEAR}/{UTC_MONTH}/{UTC_DAY}/{UNIQUE_DIGITS_8}{ext}.
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("originalFileName", "doc.pdf")])
        .bearer_auth(&app.secret)
        .body("pdf")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let path = body["filePath"].as_str().unwrap();
    let today = chrono::Utc::now().format("/uploads/%Y/%m/%d/").to_string();
    assert!(path.starts_with(&today) && path.ends_with(".pdf"), "{path}");
    let details: Value = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", path)])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // No Content-Type (or curl's default form type): the name decides.
    assert_eq!(details["mime"], "application/pdf");

    // {FILE_HASH_SHA256} is filled in once the bytes are hashed.
    let body = app.put("/h/{FILE_HASH_SHA256}.bin", b"hashed").await;
    assert_eq!(
        body["filePath"],
        format!("/h/{}.bin", sha256_hex(b"hashed"))
    );

    let resp = app.upload(&app.secret, "/x/{NOPE}.txt", "x").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(body["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("{UTC_DATE}"));
}
both!(path_variables_and_defaults);

async fn zero_byte_file(b: Backend) {
    let app = TestApp::spawn(b).await;
    let body = app.put("/empty.bin", b"").await;
    assert_eq!(body["etag"], sha256_hex(b""));
    let resp = app.client.get(app.raw("/empty.bin")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], "0");
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = app
        .client
        .get(app.raw("/empty.bin"))
        .header("range", "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "a range on an empty file gets the (empty) file"
    );
}
both!(zero_byte_file);

async fn hundred_mib_upload_streams(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..100u32 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let expected = sha256_hex(&data);
    // Sent as a stream of 64 KiB chunks with no Content-Length (chunked).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = app.upload(&app.secret, "/big/100m.bin", body).await;
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["etag"], expected);
    let resp = app
        .client
        .get(app.raw("/big/100m.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-length"],
        (100 * 1024 * 1024).to_string()
    );
    let got = resp.bytes().await.unwrap();
    assert_eq!(sha256_hex(&got), expected);
    // A range deep inside the file.
    let resp = app
        .client
        .get(app.raw("/big/100m.bin"))
        .header("range", "bytes=90000000-90000099")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &data[90_000_000..90_000_100]
    );
}
both!(hundred_mib_upload_streams);

async fn declared_size_over_limit_is_refused_before_reading(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            max_file_size: 1024 * 1024,
            ..Options::default()
        },
    )
    .await;
    // Declares 5 GiB and sends nothing: the answer must come without the body.
    let req = format!(
        "POST /v2/accounts/{}/uploads/binary?filePath=/big.bin HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Length: 5368709120\r\n\r\n",
        app.account, app.secret
    );
    let answer = app.raw_http(req.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"file_too_large\""), "{answer}");
    assert!(answer.contains("STOWAGE_MAX_FILE_SIZE"), "{answer}");
    assert!(answer.contains("\"maxFileSize\":1048576"), "{answer}");

    // A chunked body with no length that passes the limit while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![7u8; 64 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = app.upload(&app.secret, "/big2.bin", body).await;
    assert_eq!(resp.status(), 413);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "file_too_large");
    assert_eq!(app.get_bytes("/big2.bin").await.0, 404);
    assert!(app.blob_keys().await.is_empty(), "413 left bytes behind");

    // Exactly at the limit is fine.
    let resp = app
        .upload(&app.secret, "/exact.bin", vec![1u8; 1024 * 1024])
        .await;
    assert_eq!(resp.status(), 200);
}
both!(declared_size_over_limit_is_refused_before_reading);

async fn truncated_body_leaves_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    // Declares 1 MiB, sends 100 KiB, then closes the connection.
    let mut req = format!(
        "POST /v2/accounts/{}/uploads/binary?filePath=/cut.bin HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Length: 1048576\r\n\r\n",
        app.account, app.secret
    )
    .into_bytes();
    req.extend(vec![9u8; 100 * 1024]);
    {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(app.url.trim_start_matches("http://"))
            .await
            .unwrap();
        s.write_all(&req).await.unwrap();
        s.shutdown().await.unwrap();
        drop(s);
    }
    TestApp::eventually(
        Duration::from_secs(10),
        "partial blob and its GC entry removed",
        || async {
            app.blob_keys().await.is_empty()
                && app
                    .state
                    .meta
                    .gc_due(i64::MAX, 10)
                    .await
                    .unwrap()
                    .is_empty()
        },
    )
    .await;
    assert_eq!(app.get_bytes("/cut.bin").await.0, 404);
}
both!(truncated_body_leaves_nothing);

async fn overwrite_needs_permission_and_fallback_applies(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/o/a.txt", b"one").await;
    // The public key may create but not overwrite.
    let resp = app.upload(&app.public, "/o/a.txt", "two").await;
    assert_eq!(resp.status(), 409);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "file_already_exists");
    assert!(json["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("fileNameFallback"));
    assert_eq!(app.get_bytes("/o/a.txt").await.1, b"one");
    // With a fallback name the upload lands there instead.
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[
            ("filePath", "/o/a.txt"),
            ("fileNameFallback", "a-{UNIQUE_DIGITS_6}.txt"),
        ])
        .bearer_auth(&app.public)
        .body("two")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.unwrap();
    let fallback = json["filePath"].as_str().unwrap();
    assert!(fallback.starts_with("/o/a-") && fallback.len() == "/o/a-123456.txt".len());
    assert_eq!(app.get_bytes(fallback).await.1, b"two");
    // The secret key overwrites in place.
    app.put("/o/a.txt", b"three").await;
    assert_eq!(app.get_bytes("/o/a.txt").await.1, b"three");
    assert_eq!(
        app.blob_keys().await.len(),
        3,
        "old version kept, new one stored"
    );
}
both!(overwrite_needs_permission_and_fallback_applies);

async fn concurrent_overwrites_are_atomic(b: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(b).await);
    let size = 512 * 1024;
    app.put("/race.bin", &vec![0u8; size]).await;
    let mut tasks = Vec::new();
    for w in 1..=6u8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let resp = app.upload(&app.secret, "/race.bin", vec![w; size]).await;
                assert_eq!(resp.status(), 200);
            }
        }));
    }
    for _ in 0..2 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..30 {
                let resp = app.client.get(app.raw("/race.bin")).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                let etag = resp.headers()["etag"].to_str().unwrap().to_string();
                let bytes = resp.bytes().await.unwrap();
                assert_eq!(bytes.len(), size);
                assert!(bytes.iter().all(|&x| x == bytes[0]), "mixed bytes");
                assert_eq!(etag, format!("\"{}\"", sha256_hex(&bytes)));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let versions: Value = app
        .client
        .get(app.api("/files/versions"))
        .query(&[("filePath", "/race.bin")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 19);
}
both!(concurrent_overwrites_are_atomic);
