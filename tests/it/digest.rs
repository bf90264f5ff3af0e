//! SPEC §5 (RFC 9530): Content-Digest / Repr-Digest on every upload route,
//! checked while streaming (400 digest_mismatch, nothing stored), and
//! Repr-Digest on whole-file downloads.

use crate::both;
use crate::common::{Backend, TestApp};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn sha256_field(bytes: &[u8]) -> String {
    format!("sha-256=:{}:", b64(&Sha256::digest(bytes)))
}

fn sha512_field(bytes: &[u8]) -> String {
    format!("sha-512=:{}:", b64(&Sha512::digest(bytes)))
}

async fn binary(app: &TestApp, path: &str, bytes: &[u8], headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", path)])
        .bearer_auth(&app.secret)
        .body(bytes.to_vec());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn assert_mismatch(status: u16, body: &Value, algorithm: &str, sent: &[u8], expected: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "digest_mismatch", "{body}");
    let d = &body["error"]["details"];
    assert_eq!(d["algorithm"], algorithm);
    assert_eq!(d["expected"], expected);
    let actual = match algorithm {
        "sha-256" => b64(&Sha256::digest(sent)),
        _ => b64(&Sha512::digest(sent)),
    };
    assert_eq!(d["actual"], actual);
}

async fn nothing_stored(app: &TestApp, path: &str) {
    assert_eq!(app.get_bytes(path).await.0, 404, "{path} must not exist");
    assert_eq!(app.blob_keys().await, Vec::<String>::new(), "no bytes kept");
}

async fn binary_uploads_check_digests(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    // Good digests, each algorithm, in either field; unknown ones are ignored.
    for (i, (name, value)) in [
        ("content-digest", sha256_field(&data)),
        ("repr-digest", sha512_field(&data)),
        (
            "content-digest",
            format!(
                "md5=:AAAA:, {}, {}",
                sha256_field(&data),
                sha512_field(&data)
            ),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, v) = binary(&app, &format!("/ok{i}.bin"), &data, &[(name, &value)]).await;
        assert_eq!(s, 200, "{name}: {value}: {v}");
        assert_eq!(app.get_bytes(&format!("/ok{i}.bin")).await.1, data);
    }
    let before = app.blob_keys().await;
    // One flipped byte: refused, nothing of it kept.
    let mut bad = data.clone();
    bad[1000] ^= 1;
    let want = b64(&Sha256::digest(&data));
    let (s, v) = binary(
        &app,
        "/bad.bin",
        &bad,
        &[("content-digest", &sha256_field(&data))],
    )
    .await;
    assert_mismatch(s, &v, "sha-256", &bad, &want);
    let (s, v) = binary(
        &app,
        "/bad.bin",
        &bad,
        &[("repr-digest", &sha512_field(&data))],
    )
    .await;
    assert_mismatch(s, &v, "sha-512", &bad, &b64(&Sha512::digest(&data)));
    // Both fields: each must hold.
    let headers = [
        ("content-digest", sha256_field(&bad)),
        ("repr-digest", sha256_field(&data)),
    ];
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, v) = binary(&app, "/bad.bin", &bad, &h).await;
    assert_mismatch(s, &v, "sha-256", &bad, &want);
    assert_eq!(app.get_bytes("/bad.bin").await.0, 404);
    assert_eq!(
        app.blob_keys().await,
        before,
        "a refused upload leaves no bytes"
    );
    // Only unknown algorithms, or a malformed field: 400 before reading (a small
    // body, since the server answers without reading it).
    for value in [
        "md5=:AAAA:",
        "sha-256=deadbeef",
        "sha-256=:AAAA:",
        "sha-256=:!!:",
    ] {
        let (s, v) = binary(&app, "/bad.bin", b"x", &[("content-digest", value)]).await;
        assert_eq!(s, 400, "{value}");
        assert_eq!(v["error"]["code"], "invalid_request", "{value}");
    }
    let (_, v) = binary(&app, "/bad.bin", b"x", &[("content-digest", "md5=:AAAA:")]).await;
    assert!(v["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("sha-256"));
    assert_eq!(app.blob_keys().await, before);
}
both!(binary_uploads_check_digests);

/// A multipart body built by hand, so its digest is known.
fn form_body(boundary: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{name}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

async fn post_form(
    app: &TestApp,
    url: &str,
    auth: &str,
    body: &[u8],
    digest: &str,
) -> (u16, Value) {
    let resp = app
        .client
        .post(url)
        .bearer_auth(auth)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .header("content-digest", digest)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn form_data_digest_covers_the_whole_body(b: Backend) {
    let app = TestApp::spawn(b).await;
    let one = vec![1u8; 200_000];
    let two = vec![2u8; 1000];
    let body = form_body("XyZ", &[("one", &one), ("two", &two)]);
    let url = format!("{}?folderPath=/f", app.api("/uploads/form_data"));
    // The digest of the file alone is not the body's: refused, neither file kept.
    let (s, v) = post_form(&app, &url, &app.secret, &body, &sha256_field(&one)).await;
    assert_mismatch(s, &v, "sha-256", &body, &b64(&Sha256::digest(&one)));
    nothing_stored(&app, "/f/one.bin").await;
    assert_eq!(app.get_bytes("/f/two.bin").await.0, 404);
    // The whole body's digest: both files.
    let url = format!(
        "{}?folderPath=/f&fileName=%7BORIGINAL_FILE_NAME%7D.bin",
        app.api("/uploads/form_data")
    );
    let (s, v) = post_form(&app, &url, &app.secret, &body, &sha256_field(&body)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["files"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(app.get_bytes("/f/one.bin").await.1, one);
    assert_eq!(app.get_bytes("/f/two.bin").await.1, two);
    // An epilogue after the closing boundary is part of the body too.
    let mut tail = form_body("XyZ", &[("three", b"3")]);
    tail.extend_from_slice(b"epilogue");
    let mut short = tail.clone();
    short.truncate(tail.len() - 8);
    let (s, v) = post_form(&app, &url, &app.secret, &tail, &sha256_field(&short)).await;
    assert_eq!(v["error"]["code"], "digest_mismatch", "{v}");
    assert_eq!(s, 400);
    assert_eq!(app.get_bytes("/f/three.bin").await.0, 404);
    let (s, _) = post_form(&app, &url, &app.secret, &tail, &sha256_field(&tail)).await;
    assert_eq!(s, 200);
}
both!(form_data_digest_covers_the_whole_body);

async fn token_and_imagekit_routes_check_digests(b: Backend) {
    let app = TestApp::spawn(b).await;
    let file = b"token bytes".to_vec();
    let body = form_body("XyZ", &[("file", &file)]);
    for good in [false, true] {
        let resp = app
            .client
            .post(format!("{}/token", app.url))
            .bearer_auth(&app.secret)
            .json(&json!({"path": "/t/file.bin"}))
            .send()
            .await
            .unwrap();
        let token: Value = resp.json().await.unwrap();
        let token = token["token"].as_str().unwrap().to_string();
        let digest = if good {
            sha256_field(&body)
        } else {
            sha256_field(&file)
        };
        let (s, v) = post_form(&app, &format!("{}/", app.url), &token, &body, &digest).await;
        if good {
            assert_eq!(s, 200, "{v}");
            assert_eq!(app.get_bytes("/t/file.bin").await.1, file);
        } else {
            assert_mismatch(s, &v, "sha-256", &body, &b64(&Sha256::digest(&file)));
            nothing_stored(&app, "/t/file.bin").await;
        }
    }
    // ImageKit (server-side, Basic): the error uses ImageKit's shape.
    let mut ik = Vec::new();
    ik.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nik.bin\r\n",
    );
    ik.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"useUniqueFileName\"\r\n\r\nfalse\r\n",
    );
    ik.extend_from_slice(&form_body("XyZ", &[("file", b"imagekit")]));
    let before = app.blob_keys().await;
    for (digest, status) in [(sha256_field(b"other"), 400), (sha256_field(&ik), 200)] {
        let resp = app
            .client
            .post(format!("{}/api/v1/files/upload", app.url))
            .basic_auth(&app.secret, Some("do_not_set"))
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .header("content-digest", digest)
            .body(ik.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status);
        let v: Value = resp.json().await.unwrap();
        if status == 400 {
            assert!(v["message"].as_str().unwrap().contains("sha-256"), "{v}");
            assert_eq!(app.get_bytes("/ik.bin").await.0, 404);
            assert_eq!(app.blob_keys().await, before, "nothing of it kept");
        } else {
            assert_eq!(v["filePath"], "/ik.bin", "{v}");
        }
    }
}
both!(token_and_imagekit_routes_check_digests);

async fn multipart_parts_carry_their_own_digest(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data = vec![9u8; 1000];
    let resp = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": 1000, "protocol": "1.1", "path": "/mp.bin"}))
        .send()
        .await
        .unwrap();
    let started: Value = resp.json().await.unwrap();
    let part = &started["uploadParts"]["first"];
    let url = part["uploadUrl"].as_str().unwrap();
    let put = |digest: String| {
        app.client
            .put(url)
            .header("content-digest", digest)
            .body(data.clone())
            .send()
    };
    let resp = put(sha256_field(b"not these bytes")).await.unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_mismatch(
        400,
        &v,
        "sha-256",
        &data,
        &b64(&Sha256::digest(b"not these bytes")),
    );
    assert_eq!(
        app.blob_keys().await,
        Vec::<String>::new(),
        "the refused part left no bytes"
    );
    let resp = put(sha512_field(&data)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_string();
    let id = started["uploadId"].as_str().unwrap();
    let resp = app
        .client
        .put(app.api(&format!("/uploads/{id}/parts/0")))
        .bearer_auth(&app.secret)
        .json(&json!({"etag": etag}))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "Completed", "{v}");
    assert_eq!(app.get_bytes("/mp.bin").await.1, data);
}
both!(multipart_parts_carry_their_own_digest);

async fn downloads_carry_repr_digest(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 256) as u8).collect();
    app.put("/r.bin", &data).await;
    let want = format!("sha-256=:{}:", b64(&Sha256::digest(&data)));
    let get = |range: Option<&str>, wanted: Option<&str>, head: bool| {
        let mut req = if head {
            app.client.head(app.raw("/r.bin"))
        } else {
            app.client.get(app.raw("/r.bin"))
        };
        if let Some(r) = range {
            req = req.header("range", r.to_string());
        }
        if let Some(w) = wanted {
            req = req.header("want-repr-digest", w.to_string());
        }
        req.send()
    };
    for (range, head, status) in [
        (None, false, 200),
        (Some("bytes=10-99"), false, 206),
        (None, true, 200),
        (Some("bytes=-5"), true, 206),
    ] {
        let resp = get(range, None, head).await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        let got = resp.headers()["repr-digest"].to_str().unwrap().to_string();
        assert_eq!(got, want, "{range:?} head={head}");
    }
    // Only SHA-256 is kept: a preference for sha-512 still gets it; sha-256=0 none.
    let resp = get(None, Some("sha-512=10"), false).await.unwrap();
    assert_eq!(resp.headers()["repr-digest"].to_str().unwrap(), want);
    let resp = get(None, Some("sha-256=0, sha-512=3"), false)
        .await
        .unwrap();
    assert!(resp.headers().get("repr-digest").is_none());
    // Browsers may read it.
    let resp = get(None, None, false).await.unwrap();
    assert!(resp.bytes().await.unwrap().len() == data.len());
}
both!(downloads_carry_repr_digest);
