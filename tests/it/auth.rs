//! SPEC §2/§3 as far as API keys go: carriers, rules, revocation, account match.

use crate::both;
use crate::common::{Backend, TestApp};
use base64::Engine;
use serde_json::Value;
use std::time::Duration;
use stowage::auth::keys::KeyType;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Uploads with an arbitrary set of headers; returns (status, error code).
async fn try_upload(app: &TestApp, path: &str, headers: &[(&str, String)]) -> (u16, String) {
    let mut req = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", path)])
        .body("x");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

async fn every_key_carrier(b: Backend) {
    let app = TestApp::spawn(b).await;
    let k = app.secret.clone();
    let ok: Vec<(&str, String)> = vec![
        ("authorization", format!("Bearer {k}")),
        (
            "authorization",
            format!("Basic {}", b64(&format!("apikey:{k}"))),
        ),
        (
            "authorization",
            format!("Basic {}", b64(&format!("{k}:do_not_set"))),
        ),
        ("x-api-key", k.clone()),
    ];
    for (i, (name, value)) in ok.into_iter().enumerate() {
        let (status, code) =
            try_upload(&app, &format!("/c/{i}.txt"), &[(name, value.clone())]).await;
        assert_eq!(status, 200, "{name}: {value} → {code}");
    }
    let bad: Vec<(&str, String, &str)> = vec![
        (
            "authorization",
            "Bearer secret_nope".into(),
            "invalid_api_key",
        ),
        (
            "authorization",
            // The last character changed (to one it is not already).
            format!(
                "Bearer {}{}",
                &k[..k.len() - 1],
                if k.ends_with('x') { 'y' } else { 'x' }
            ),
            "invalid_api_key",
        ),
        ("authorization", "Basic !!!".into(), "invalid_authorization"),
        (
            "authorization",
            "Digest abc".into(),
            "invalid_authorization",
        ),
        (
            "authorization",
            "Bearer random-token".into(),
            "invalid_api_key",
        ),
        ("x-api-key", format!("Bearer {k}"), "invalid_api_key"),
        ("x-api-key", "public_123".into(), "invalid_api_key"),
    ];
    for (name, value, want) in bad {
        let (status, code) = try_upload(&app, "/c/bad.txt", &[(name, value.clone())]).await;
        assert_eq!((status, code.as_str()), (401, want), "{name}: {value}");
    }
    // The Bearer-in-x-api-key mistake is explained.
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/c/x.txt")])
        .header("x-api-key", format!("Bearer {k}"))
        .body("x")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("Remove the 'Bearer ' prefix"));
    assert!(!body.to_string().contains(&k), "error echoes the key");
    // A bad credential on a public download is 401, never anonymous.
    app.put("/pub.txt", b"p").await;
    let resp = app
        .client
        .get(app.raw("/pub.txt"))
        .bearer_auth("secret_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // No credential at all.
    let (status, code) = try_upload(&app, "/c/anon.txt", &[]).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
}
both!(every_key_carrier);

async fn rules_and_defaults(b: Backend) {
    let app = TestApp::spawn(b).await;
    let scoped = app.key(KeyType::Secret, &["/x/*:read,create"]).await;
    let deep = app.key(KeyType::Public, &["/x/*/**:create"]).await;
    let bearer = |k: &str| vec![("authorization", format!("Bearer {k}"))];
    assert_eq!(try_upload(&app, "/x/a.txt", &bearer(&scoped)).await.0, 200);
    assert_eq!(
        try_upload(&app, "/x/a/b.txt", &bearer(&scoped)).await,
        (403, "forbidden".into())
    );
    assert_eq!(try_upload(&app, "/y/a.txt", &bearer(&scoped)).await.0, 403);
    assert_eq!(try_upload(&app, "/x/a/b.txt", &bearer(&deep)).await.0, 200);
    assert_eq!(try_upload(&app, "/x/c.txt", &bearer(&deep)).await.0, 403);
    // Rules replace the defaults: the scoped secret key may not delete.
    let resp = app
        .client
        .delete(app.api("/files"))
        .query(&[("filePath", "/x/a.txt")])
        .bearer_auth(&scoped)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A public key without rules creates and reads, nothing else.
    assert_eq!(
        try_upload(&app, "/p.txt", &bearer(&app.public)).await.0,
        200
    );
    let resp = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/p.txt")])
        .bearer_auth(&app.public)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
both!(rules_and_defaults);

async fn other_accounts_key_is_forbidden(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
        .await
        .unwrap();
    let key = app.key_for(&other.id, KeyType::Secret, &[]).await;
    let (status, code) = try_upload(
        &app,
        "/z.txt",
        &[("authorization", format!("Bearer {key}"))],
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "account_mismatch"));
}
both!(other_accounts_key_is_forbidden);

async fn revoked_key_fails_within_a_second(b: Backend) {
    let app = TestApp::spawn(b).await;
    let key = app.key(KeyType::Secret, &[]).await;
    let auth = vec![("authorization", format!("Bearer {key}"))];
    assert_eq!(try_upload(&app, "/r1.txt", &auth).await.0, 200);
    let id = app
        .state
        .meta
        .list_api_keys(&app.account)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.key_hash == stowage::auth::keys::hash(&key))
        .unwrap()
        .id;
    // Revoked straight in the database, as another node would: this node's
    // cache must let go within 1 s.
    assert!(app
        .state
        .meta
        .revoke_api_key(&app.account, &id, 1)
        .await
        .unwrap());
    let start = std::time::Instant::now();
    loop {
        let (status, code) = try_upload(&app, "/r2.txt", &auth).await;
        if status == 401 {
            assert_eq!(code, "api_key_revoked");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1200),
            "still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
both!(revoked_key_fails_within_a_second);
