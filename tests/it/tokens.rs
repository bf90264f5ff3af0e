//! SPEC §5.4: single-use, exact-path upload tokens.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;
use stowage::auth::keys::KeyType;

async fn token(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/token", app.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// `POST /` with the given credential and form fields (file last).
async fn upload(
    app: &TestApp,
    auth: &str,
    fields: &[(&str, &str)],
    file: &[u8],
    mime: &str,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(file.to_vec())
            .file_name("f.bin")
            .mime_str(mime)
            .unwrap(),
    );
    let resp = app
        .client
        .post(format!("{}/", app.url))
        .bearer_auth(auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn token_uploads_once_to_one_path(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, t) = token(
        &app,
        &app.secret,
        json!({"bucket": "avatars", "path": "u/1.png", "max_size": 100}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["path"], "/avatars/u/1.png");
    let tok = t["token"].as_str().unwrap().to_string();
    assert!(tok.starts_with("token_"));
    let expires = chrono::DateTime::parse_from_rfc3339(t["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((3590..=3600).contains(&left), "{left}");
    assert!(t["expires_at"].as_str().unwrap().ends_with('Z'));

    let (s, up) = upload(
        &app,
        &tok,
        &[("bucket", "avatars"), ("path", "u/1.png")],
        b"png bytes",
        "image/png",
    )
    .await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["path"], "/avatars/u/1.png");
    assert_eq!(up["size"], 9);
    assert_eq!(up["mime"], "image/png");
    assert_eq!(up["etag"], crate::common::sha256_hex(b"png bytes"));
    assert_eq!(up["url"], app.raw("/avatars/u/1.png"));
    assert_eq!(app.get_bytes("/avatars/u/1.png").await.1, b"png bytes");
    let (s, again) = upload(
        &app,
        &tok,
        &[("path", "/avatars/u/1.png")],
        b"x",
        "image/png",
    )
    .await;
    assert_eq!((s, code(&again)), (401, "token_already_used"));

    // The long route, and an API key straight on POST /.
    let resp = app
        .client
        .post(app.api("/upload_tokens"))
        .bearer_auth(&app.secret)
        .json(&json!({"path": "/docs/a.txt", "expires_in": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (s, up) = upload(
        &app,
        &app.public,
        &[("path", "/keyed/a.txt")],
        b"k",
        "text/plain",
    )
    .await;
    assert_eq!((s, up["path"].as_str()), (200, Some("/keyed/a.txt")));
}
both!(token_uploads_once_to_one_path);

async fn twenty_concurrent_uploads_one_token(b: Backend) {
    let app = Arc::new(TestApp::spawn(b).await);
    let (_, t) = token(&app, &app.secret, json!({"path": "/race/x.bin"})).await;
    let tok = t["token"].as_str().unwrap().to_string();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, tok) = (app.clone(), tok.clone());
            tokio::spawn(async move {
                upload(
                    &app,
                    &tok,
                    &[("path", "/race/x.bin")],
                    format!("{i}").as_bytes(),
                    "text/plain",
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            200 => ok += 1,
            401 => assert_eq!(code(&body), "token_already_used"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(app.blob_keys().await.len(), 1);
}
both!(twenty_concurrent_uploads_one_token);

async fn token_refusals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let new = |path: &'static str, extra: Value| {
        let app = &app;
        async move {
            let mut body = json!({ "path": path });
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            token(app, &app.secret, body).await.1["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    for (other, status, want) in [
        ("/a/c.png", 403, "path_mismatch"),
        ("/A/b.png", 403, "path_mismatch"),
        ("/a/b.png/../c.png", 400, "invalid_path"),
    ] {
        let tok = new("/a/b.png", json!({})).await;
        let (s, body) = upload(&app, &tok, &[("path", other)], b"x", "image/png").await;
        assert_eq!((s, code(&body)), (status, want), "{other}");
        // Spent even though the upload failed.
        let (s, body) = upload(&app, &tok, &[("path", "/a/b.png")], b"x", "image/png").await;
        assert_eq!((s, code(&body)), (401, "token_already_used"), "{other}");
    }
    assert_eq!(app.get_bytes("/a/b.png").await.0, 404);
    // Without a path field the token's own path is used.
    let tok = new("/a/b.png", json!({})).await;
    assert_eq!(upload(&app, &tok, &[], b"x", "image/png").await.0, 200);
    // Bound limits.
    let tok = new("/lim/big.bin", json!({"max_size": 10})).await;
    let (s, body) = upload(&app, &tok, &[], &[0u8; 20], "application/octet-stream").await;
    assert_eq!((s, code(&body)), (413, "file_too_large"));
    assert!(app.blob_keys().await.len() == 1, "413 left bytes");
    let tok = new("/lim/pic", json!({"mime": "image/*"})).await;
    let (s, body) = upload(&app, &tok, &[], b"text", "text/plain").await;
    assert_eq!((s, code(&body)), (415, "mime_type_not_allowed"));
    // Expiry.
    let tok = new("/exp.bin", json!({"expires_in": 1})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, body) = upload(&app, &tok, &[], b"x", "text/plain").await;
    assert_eq!((s, code(&body)), (401, "token_expired"));
    // Unknown tokens; creating tokens needs create on the path.
    let (s, body) = upload(&app, "token_nope", &[], b"x", "text/plain").await;
    assert_eq!((s, code(&body)), (401, "invalid_token"));
    // A bad token is 401 on every route, never a quiet anonymous or 403.
    app.put("/pub.txt", b"p").await;
    let resp = app
        .client
        .get(app.raw("/pub.txt"))
        .bearer_auth("token_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let scoped = app.key(KeyType::Public, &["/mine/*:create"]).await;
    assert_eq!(
        token(&app, &scoped, json!({"path": "/mine/a"})).await.0,
        200
    );
    assert_eq!(
        token(&app, &scoped, json!({"path": "/theirs/a"})).await.0,
        403
    );
    assert_eq!(
        token(
            &app,
            &app.secret,
            json!({"path": "/x", "expires_in": 86401})
        )
        .await
        .0,
        400
    );
    let resp = app
        .client
        .post(format!("{}/token", app.url))
        .json(&json!({"path": "/x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
both!(token_refusals);
