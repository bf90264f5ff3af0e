//! Hardening of credentials and permissions: sessions bound to their owner,
//! links bound to a version, token lifetimes in overflow-safe arithmetic,
//! anonymous ImageKit staging bounded, and folder operations that check every
//! descendant.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::hardening::{open_request, read_response};
use crate::jwt::{claims, now, register, rsa, sign};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::Duration;
use stowage::auth::keys::KeyType;

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn multipart_sessions_answer_404_to_others(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.key(KeyType::Secret, &[]).await;
    let begin = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": 10, "protocol": "1.1", "path": "/mp/x.bin"}))
        .send()
        .await
        .unwrap();
    let (s, started) = json_of(begin).await;
    assert_eq!(s, 200, "{started}");
    let id = started["uploadId"].as_str().unwrap();
    let unknown = "0".repeat(id.len());
    let ask = |key: &str, id: &str, what: &str| {
        let url = app.api(&format!("/uploads/{id}{what}"));
        let req = match what {
            "/parts/0" => app.client.get(url),
            "/parts" => app.client.get(url),
            _ => app
                .client
                .put(app.api(&format!("/uploads/{id}/parts/0")))
                .json(&json!({"etag": "x"})),
        };
        let key = key.to_string();
        async move { json_of(req.bearer_auth(key).send().await.unwrap()).await }
    };
    for what in ["/parts/0", "/parts", "confirm"] {
        let (s1, foreign) = ask(&other, id, what).await;
        let (s2, missing) = ask(&other, &unknown, what).await;
        assert_eq!((s1, s2), (404, 404), "{what}: {foreign} / {missing}");
        let strip = |v: &Value, id: &str| v.to_string().replace(id, "ID");
        assert_eq!(strip(&foreign, id), strip(&missing, &unknown), "{what}");
        // The owner still sees it.
        let (s, _) = ask(
            &app.secret,
            id,
            if what == "confirm" { "/parts" } else { what },
        )
        .await;
        assert_eq!(s, 200, "{what}");
    }
}
both!(multipart_sessions_answer_404_to_others);

async fn signed_links_serve_their_version_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/v/a.txt", b"old bytes").await;
    let versions: Value = app
        .client
        .get(app.api("/files/versions"))
        .query(&[("filePath", "/v/a.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old = versions["versions"][0]["versionId"]
        .as_str()
        .unwrap()
        .to_string();
    app.put("/v/a.txt", b"new bytes").await;
    let (s, link) = json_of(
        app.client
            .post(app.api("/files/signed_url"))
            .bearer_auth(&app.secret)
            .json(&json!({"filePath": "/v/a.txt", "expires_in": 60}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    let resp = app.client.get(url).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"new bytes");
    // The same signature asking for the older version is refused.
    let (base, current) = url
        .split_once("&versionId=")
        .expect("the link names its version");
    assert_ne!(current, old);
    let tampered = format!("{base}&versionId={old}");
    let resp = app.client.get(&tampered).send().await.unwrap();
    let status = resp.status();
    let body = resp.bytes().await.unwrap();
    assert_eq!(
        status,
        401,
        "{tampered}: {}",
        String::from_utf8_lossy(&body)
    );
    assert!(!body.windows(9).any(|w| w == b"old bytes"));
    // A link made for the old version serves it, and only it.
    let (_, link) = json_of(
        app.client
            .post(app.api("/files/signed_url"))
            .bearer_auth(&app.secret)
            .json(&json!({"filePath": "/v/a.txt", "expires_in": 60, "versionId": old}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let url = link["url"].as_str().unwrap();
    let resp = app.client.get(url).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"old bytes");
}
both!(signed_links_serve_their_version_only);

async fn jwt_lifetimes_cannot_overflow(b: Backend) {
    let app = TestApp::spawn(b).await;
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        ("iat far negative", json!(i64::MIN), json!(now() + 600)),
        ("iat negative", json!(-1), json!(now() + 600)),
        ("exp − iat overflows", json!(now()), json!(i64::MAX)),
        ("exp far past, iat now", json!(now()), json!(i64::MIN)),
    ];
    for (what, iat, exp) in cases {
        let mut c = claims(&app);
        c["iat"] = iat;
        c["exp"] = exp;
        let token = sign(Algorithm::RS256, rsa(), Some(&kid), &c);
        let resp = app
            .client
            .post(app.api("/uploads/binary"))
            .query(&[("filePath", "/u/1/a.txt")])
            .bearer_auth(&token)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{what}");
    }
    assert!(app.blob_keys().await.is_empty());
}
both!(jwt_lifetimes_cannot_overflow);

async fn signing_key(app: &TestApp) -> (String, String) {
    let (_, v) = json_of(
        app.client
            .post(app.api("/signing_keys"))
            .bearer_auth(&app.secret)
            .json(&json!({"name": "web"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    (
        v["kid"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

fn hs256(kid: &str, secret: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn imagekit_v2(app: &TestApp, token: &str) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"ik".to_vec()).file_name("a.png"),
        )
        .text("fileName", "a.png")
        .text("token", token.to_string());
    json_of(
        app.client
            .post(format!("{}/api/v2/files/upload", app.url))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn imagekit_iat_checks(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (kid, secret) = signing_key(&app).await;
    let cases = [
        ("iat in the future", now() + 120, now() + 600),
        ("iat negative", -5, now() + 600),
        ("iat i64::MIN", i64::MIN, now() + 600),
        ("exp i64::MAX", now(), i64::MAX),
    ];
    for (what, iat, exp) in cases {
        let c = json!({"fileName": "a.png", "iat": iat, "exp": exp});
        let (s, v) = imagekit_v2(&app, &hs256(&kid, &secret, &c)).await;
        assert_eq!(s, 401, "{what}: {v}");
        assert!(v["message"].is_string(), "{v}");
    }
    let ok = json!({"fileName": "a.png", "iat": now(), "exp": now() + 600});
    assert_eq!(imagekit_v2(&app, &hs256(&kid, &secret, &ok)).await.0, 200);
}
both!(imagekit_iat_checks);

/// Holds an anonymous ImageKit upload open mid-file.
async fn stalled_imagekit(app: &TestApp, auth: Option<&str>) -> tokio::net::TcpStream {
    let host = app.url.trim_start_matches("http://");
    let auth = auth
        .map(|a| format!("authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /api/v2/files/upload HTTP/1.1\r\nhost: {host}\r\n{auth}\
         content-type: multipart/form-data; boundary=XyZ\r\ncontent-length: 1000000\r\n\r\n"
    );
    open_request(
        app,
        &head,
        b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc",
    )
    .await
}

async fn anonymous_imagekit_staging_is_bounded(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            body_timeout: 30,
            ..Options::default()
        },
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..stowage::state::ANONYMOUS_STAGING_SLOTS {
        held.push(stalled_imagekit(&app, None).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every slot taken: the next anonymous upload is refused at once.
    let mut s = stalled_imagekit(&app, None).await;
    let (status, body, head) = read_response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 5"),
        "{head}"
    );
    assert!(body["message"].as_str().unwrap().contains("busy"), "{body}");
    // An upload token is no key on these routes: it waits with the anonymous.
    let (_, tok) = json_of(
        app.client
            .post(format!("{}/token", app.url))
            .bearer_auth(&app.secret)
            .json(&json!({"path": "/t/a.png"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let bearer = format!("Bearer {}", tok["token"].as_str().unwrap());
    let mut s = stalled_imagekit(&app, Some(&bearer)).await;
    let (status, body, _) = read_response(&mut s, Duration::from_secs(5)).await;
    assert_eq!(status, 429, "{body}");
    // A key is not limited by those slots.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"k".to_vec()).file_name("k.png"),
        )
        .text("fileName", "k.png");
    let resp = app
        .client
        .post(format!("{}/api/v1/files/upload", app.url))
        .basic_auth(&app.secret, Some("do_not_set"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Slots come back when the held uploads go away.
    drop(held);
    let ok = json!({"fileName": "a.png"});
    let (kid, secret) = signing_key(&app).await;
    let mut c = ok.clone();
    c["iat"] = json!(now());
    c["exp"] = json!(now() + 600);
    TestApp::eventually(Duration::from_secs(5), "slots released", || {
        let token = hs256(&kid, &secret, &c);
        let app = &app;
        async move { imagekit_v2(app, &token).await.0 != 429 }
    })
    .await;
}
both!(anonymous_imagekit_staging_is_bounded);

async fn put_folder(app: &TestApp, key: &str, path: &str, perms: Value) -> u16 {
    app.client
        .put(app.api("/folders"))
        .bearer_auth(key)
        .json(&json!({"folderPath": path, "folderSettings": {"publicPermissions": {"set": true, "value": perms}}}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn recursive_folder_operations_check_descendants(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/users/42/private/secret.txt", b"s").await;
    app.put("/users/42/a.txt", b"a").await;
    assert_eq!(
        put_folder(&app, &app.secret, "/users/42/private", json!([])).await,
        200
    );
    assert_eq!(app.get_bytes("/users/42/private/secret.txt").await.0, 401);
    let owner = app
        .key(
            KeyType::Secret,
            &["/users/42:folders,list", "/users/42/*:delete"],
        )
        .await;
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&owner)
        .json(&json!({"folderPath": "/users/42", "recursive": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Nothing changed: still Private.
    assert_eq!(app.get_bytes("/users/42/private/secret.txt").await.0, 401);
    let (_, details) = json_of(
        app.client
            .get(app.api("/folders"))
            .query(&[("folderPath", "/users/42/private")])
            .bearer_auth(&app.secret)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        details["settings"]["publicPermissions"],
        json!([]),
        "{details}"
    );
    // With deleteFiles, not one file goes when one cannot.
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&owner)
        .json(&json!({"folderPath": "/users/42", "recursive": true, "deleteFiles": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.get_bytes("/users/42/a.txt").await.1, b"a");

    // A recursive listing shows only what the key may list.
    let (s, list) = json_of(
        app.client
            .get(app.api("/folders/list"))
            .query(&[
                ("folderPath", "/users/42"),
                ("recursive", "true"),
                ("includeFiles", "true"),
            ])
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let paths: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["filePath"].as_str().or(i["folderPath"].as_str()).unwrap())
        .collect();
    assert!(paths.contains(&"/users/42/a.txt"), "{paths:?}");
    assert!(
        !paths.contains(&"/users/42/private/secret.txt"),
        "{paths:?}"
    );
    // The secret key sees all, and deletes all.
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": "/users/42", "recursive": true, "deleteFiles": true}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(resp).await;
    assert_eq!((s, v["deletedFiles"].as_u64()), (200, Some(2)), "{v}");
}
both!(recursive_folder_operations_check_descendants);

async fn recursive_delete_in_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    // More files than one page (1000): the delete goes page by page.
    let n = 1105;
    let keys: Vec<String> = (0..n)
        .map(|i| format!("/many/{}/f{i:04}.txt", i % 3))
        .collect();
    let meta = app.state.meta.clone();
    for path in &keys {
        let row = stowage::meta::FileRow {
            account_id: app.account.clone(),
            path: path.clone(),
            version_id: uuid::Uuid::new_v4().simple().to_string(),
            blob_key: format!("{}/none/{}", app.account, uuid::Uuid::new_v4().simple()),
            size: 0,
            mime: "text/plain".into(),
            etag: crate::common::sha256_hex(path.as_bytes()),
            sha256: Some(crate::common::sha256_hex(path.as_bytes())),
            original_file_name: None,
            metadata: "{}".into(),
            tags: "[]".into(),
            created_at: stowage::meta::now_ms(),
        };
        meta.gc_register(&row.blob_key, i64::MAX).await.unwrap();
        meta.commit_file(&row, false, stowage::meta::BlobClaim::Staged)
            .await
            .unwrap();
    }
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": "/many", "recursive": true, "deleteFiles": true}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(resp).await;
    assert_eq!(
        (s, v["deletedFiles"].as_u64()),
        (200, Some(n as u64)),
        "{v}"
    );
    assert!(meta
        .get_file(&app.account, &keys[n - 1])
        .await
        .unwrap()
        .is_none());
}
both!(recursive_delete_in_pages);
