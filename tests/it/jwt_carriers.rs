//! SPEC §2 for JWTs and keys across carriers: key management over HTTP,
//! revocations reaching a second node, every carrier's refusals, and encoded
//! path separators.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::jwt::{claims, now, register, rsa, sign};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use stowage::auth::keys::KeyType;

async fn key_management_over_http(b: Backend) {
    let app = TestApp::spawn(b).await;
    let resp = app
        .client
        .post(app.api("/api_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"type": "public", "name": "web", "rules": [{"path": "/x/*", "ops": ["read", "create"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("public_{}", app.account)));
    assert_eq!(
        created["rules"],
        json!([{"path": "/x/*", "ops": ["read", "create"]}])
    );
    assert!(created["display"].as_str().unwrap().contains('…'));
    assert_eq!(created["sandbox"], false);
    let listed: Value = app
        .client
        .get(app.api("/api_keys"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items.iter().all(|k| k.get("key").is_none()),
        "plaintext in a listing"
    );
    assert!(!listed.to_string().contains(&key[14..]));
    // Public and scoped keys cannot manage keys.
    for k in [&app.public, &key] {
        let resp = app
            .client
            .get(app.api("/api_keys"))
            .bearer_auth(k)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
    // Bad input.
    let resp = app
        .client
        .post(app.api("/api_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"type": "root"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .client
        .post(app.api("/api_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"type": "secret", "rules": [{"path": "/x/*", "ops": ["fly"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .client
        .post(app.api("/jwt_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"pem": rsa().private}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "a private key is refused");
    // Revoke over HTTP: this node refuses at once.
    let id = created["keyId"].as_str().unwrap();
    let resp = app
        .client
        .delete(app.api(&format!("/api_keys/{id}")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .client
        .get(app.raw("/x/a"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app
        .client
        .delete(app.api(&format!("/api_keys/{id}")))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
both!(key_management_over_http);

async fn revocations_reach_a_second_node_within_a_second(b: Backend) {
    let a = TestApp::spawn(b).await;
    let node_b = a.spawn_peer().await;
    let key = a.key(KeyType::Secret, &[]).await;
    let kid = register(&a, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let token = sign(Algorithm::RS256, rsa(), Some(&kid), &claims(&a));
    a.put("/u/1/seen.txt", b"s").await;
    let get = |app: &TestApp, cred: String| {
        let req = app.client.get(app.raw("/u/1/seen.txt")).bearer_auth(cred);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(&node_b, key.clone()).await, 200);
    assert_eq!(get(&node_b, token.clone()).await, 200);
    // Revoke the key and delete the JWT key through node A.
    let id = a
        .state
        .meta
        .list_api_keys(&a.account)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.key_hash == stowage::auth::keys::hash(&key))
        .unwrap()
        .id;
    let resp = a
        .client
        .delete(a.api(&format!("/api_keys/{id}")))
        .bearer_auth(&a.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = a
        .client
        .delete(a.api(&format!("/jwt_keys/{kid}")))
        .bearer_auth(&a.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let start = Instant::now();
    loop {
        let (k, t) = (
            get(&node_b, key.clone()).await,
            get(&node_b, token.clone()).await,
        );
        if k == 401 && t == 401 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1100),
            "node B still accepts: key {k}, jwt {t}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
both!(revocations_reach_a_second_node_within_a_second);

/// Every carrier × (allowed, wrong op, wrong path, wrong account, revoked or
/// expired, malformed).
async fn carrier_matrix(b: Backend) {
    use base64::Engine;
    let app = TestApp::spawn(b).await;
    let other = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
        .await
        .unwrap();
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let scoped = app.key(KeyType::Secret, &["/t/*:create,read"]).await;
    let revoked = app.key(KeyType::Secret, &["/t/*:create,read"]).await;
    let rid = app
        .state
        .meta
        .list_api_keys(&app.account)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.key_hash == stowage::auth::keys::hash(&revoked))
        .unwrap()
        .id;
    app.state
        .meta
        .revoke_api_key(&app.account, &rid, 1)
        .await
        .unwrap();
    let mut c = claims(&app);
    c["access"]["pathPermissions"] = json!([{
        "match": {"path": "/t", "scope": "Children"},
        "permissions": {"read": true, "write": {"file": {"createFile": true}}}
    }]);
    let jwt = sign(Algorithm::RS256, rsa(), Some(&kid), &c);
    let mut e = c.clone();
    e["iat"] = json!(now() - 900);
    e["exp"] = json!(now() - 300);
    let expired = sign(Algorithm::RS256, rsa(), Some(&kid), &e);
    // A public key whose own rules grant nothing on /t, so the token decides.
    let bare_public = app.key(KeyType::Public, &["/nowhere:read"]).await;
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    type Creds = Vec<(&'static str, String)>;
    let carriers: Vec<(&str, Creds, Creds, Creds)> = vec![
        (
            "bearer key",
            vec![("authorization", format!("Bearer {scoped}"))],
            vec![("authorization", format!("Bearer {revoked}"))],
            vec![("authorization", format!("Bearer {}", &scoped[..20]))],
        ),
        (
            "basic apikey:KEY",
            vec![("authorization", basic("apikey", &scoped))],
            vec![("authorization", basic("apikey", &revoked))],
            vec![("authorization", "Basic %%%".into())],
        ),
        (
            "basic KEY:do_not_set",
            vec![("authorization", basic(&scoped, "do_not_set"))],
            vec![("authorization", basic(&revoked, "do_not_set"))],
            vec![("authorization", basic("nonsense", ""))],
        ),
        (
            "x-api-key",
            vec![("x-api-key", scoped.clone())],
            vec![("x-api-key", revoked.clone())],
            vec![("x-api-key", format!("Bearer {scoped}"))],
        ),
        (
            "bearer jwt",
            vec![("authorization", format!("Bearer {jwt}"))],
            vec![("authorization", format!("Bearer {expired}"))],
            vec![(
                "authorization",
                format!(
                    "Bearer {}{}",
                    &jwt[..jwt.len() - 1],
                    if jwt.ends_with('x') { 'y' } else { 'x' }
                ),
            )],
        ),
        (
            "public key + authorization-token",
            vec![
                ("authorization", format!("Bearer {bare_public}")),
                ("authorization-token", jwt.clone()),
            ],
            vec![
                ("authorization", format!("Bearer {bare_public}")),
                ("authorization-token", expired.clone()),
            ],
            vec![
                ("authorization", format!("Bearer {bare_public}")),
                ("authorization-token", "eyJ.bad".into()),
            ],
        ),
    ];
    for (i, (name, good, stale, malformed)) in carriers.into_iter().enumerate() {
        let send = |method: reqwest::Method, url: String, creds: &Creds| {
            let mut req = app.client.request(method, url).body("m");
            for (k, v) in creds {
                req = req.header(*k, v);
            }
            async move {
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                (
                    status,
                    body["error"]["code"].as_str().unwrap_or("").to_string(),
                )
            }
        };
        let up = |acc: &str, path: &str| {
            format!(
                "{}/v2/accounts/{acc}/uploads/binary?filePath={path}",
                app.url
            )
        };
        let post = reqwest::Method::POST;
        let allowed = send(
            post.clone(),
            up(&app.account, &format!("/t/{i}.txt")),
            &good,
        )
        .await;
        assert_eq!(allowed.0, 200, "{name}: allowed → {allowed:?}");
        let wrong_op = send(
            reqwest::Method::DELETE,
            format!("{}?filePath=/t/{i}.txt", app.api("/files")),
            &good,
        )
        .await;
        assert_eq!(wrong_op, (403, "forbidden".into()), "{name}: wrong op");
        let wrong_path = send(post.clone(), up(&app.account, "/elsewhere/x.txt"), &good).await;
        assert_eq!(wrong_path, (403, "forbidden".into()), "{name}: wrong path");
        let wrong_account = send(post.clone(), up(&other.id, "/t/x.txt"), &good).await;
        assert_eq!(
            wrong_account,
            (403, "account_mismatch".into()),
            "{name}: wrong account"
        );
        let stale = send(post.clone(), up(&app.account, "/t/s.txt"), &stale).await;
        assert_eq!(stale.0, 401, "{name}: revoked/expired → {stale:?}");
        assert!(
            ["api_key_revoked", "token_expired"].contains(&stale.1.as_str()),
            "{name}: {stale:?}"
        );
        let bad = send(post.clone(), up(&app.account, "/t/b.txt"), &malformed).await;
        assert_eq!(bad.0, 401, "{name}: malformed → {bad:?}");
    }
}
both!(carrier_matrix);

/// `%2F` in a CDN path is a `/` (as the Bytescale SDK encodes paths), so rules
/// see the same path whichever way it was written.
async fn encoded_slash_is_a_separator(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/x/y.txt", b"y").await;
    let reader = app.key(KeyType::Secret, &["/x/*:read"]).await;
    let url = format!("{}/{}/raw/x%2Fy.txt", app.url, app.account);
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Granted by the rule (private), not by the public default.
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"y");
    let outsider = app.key(KeyType::Secret, &["/z/*:read"]).await;
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");
}
both!(encoded_slash_is_a_separator);

/// Issue #30: a key's listing says when it was last used. A key never used
/// says null; after one request it carries a time between the request's
/// start and end (to the minute; written off the request path).
async fn keys_say_when_they_were_last_used(b: Backend) {
    let app = TestApp::spawn(b).await;
    let listed = |app: &TestApp| {
        let req = app
            .client
            .get(app.api("/api_keys"))
            .bearer_auth(&app.secret);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // The listing shows a key as its first 14 and last 4 characters.
    let shown = format!(
        "{}…{}",
        &app.public[..14],
        &app.public[app.public.len() - 4..]
    );
    let public_of = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["display"] == shown.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{shown} not in {v}"))
    };
    let before = listed(&app).await;
    assert_eq!(public_of(&before)["lastUsedAt"], Value::Null, "{before}");
    let t0 = now() * 1000 - 1000;
    let resp = app
        .client
        .get(app.raw("/nothing.txt"))
        .bearer_auth(&app.public)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let deadline = Instant::now() + Duration::from_secs(10);
    let used = loop {
        let v = public_of(&listed(&app).await);
        if v["lastUsedAt"].is_i64() || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let at = used["lastUsedAt"]
        .as_i64()
        .unwrap_or_else(|| panic!("not recorded: {used}"));
    assert!(at >= t0 && at <= now() * 1000 + 1000, "{used}");
}
both!(keys_say_when_they_were_last_used);
