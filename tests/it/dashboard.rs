//! The dashboard's server side (SPEC §10): sign-in, the session cookie, CSRF on
//! `/dashboard/api`, rights limited to the key's rules, `STOWAGE_DASHBOARD=false`,
//! asset caching.

use crate::both;
use crate::common::{Backend, TestApp};
use reqwest::header;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use stowage::auth::keys::KeyType;

struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in_raw(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/dashboard/session", app.url))
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, &app.url)
        .form(&[("key", key)])
        .send()
        .await
        .unwrap()
}

async fn sign_in(app: &TestApp, key: &str) -> Session {
    let res = sign_in_raw(app, key).await;
    assert_eq!(res.status(), 200);
    let set = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let page = app
        .client
        .get(format!("{}/dashboard", app.url))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    Session { cookie, csrf }
}

fn dapi(app: &TestApp, rest: &str) -> String {
    format!(
        "{}/dashboard/api/v2/accounts/{}{}",
        app.url, app.account, rest
    )
}

async fn sign_in_good_bad_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = sign_in_raw(&app, &app.secret).await;
    assert_eq!(res.status(), 200);
    let set = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.starts_with("stowage_dashboard="), "{set}");
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=43200",
    ] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(!set.contains("Secure"), "http public URL: no Secure");
    assert!(
        !set.contains(&app.secret[7..]),
        "the key is not in the cookie"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["accountId"], app.account.as_str());

    // Wrong key, malformed key, public key: 401 with a §8 body.
    let wrong = format!("secret_{}{}", app.account, "x".repeat(24));
    for key in [wrong.as_str(), "nope", app.public.as_str()] {
        let res = sign_in_raw(&app, key).await;
        assert_eq!(res.status(), 401, "{key}");
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["message"].is_string() && body["error"]["suggestion"].is_string());
    }

    // A revoked key cannot sign in, and its open session ends within a second.
    let created: Value = app
        .client
        .post(app.api("/api_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"type": "secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let s = sign_in(&app, &key).await;
    let list = || {
        app.client
            .get(dapi(&app, "/folders/list?folderPath=/"))
            .header(header::COOKIE, &s.cookie)
            .send()
    };
    assert_eq!(list().await.unwrap().status(), 200);
    let del = app
        .client
        .delete(app.api(&format!("/api_keys/{}", created["keyId"].as_str().unwrap())))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = list().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "dashboard_session_required");
    assert_eq!(sign_in_raw(&app, &key).await.status(), 401);

    // A tampered cookie is no session.
    let res = app
        .client
        .get(dapi(&app, "/folders/list?folderPath=/"))
        .header(header::COOKIE, "stowage_dashboard=00ff")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
both!(sign_in_good_bad_revoked);

async fn csrf_and_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = sign_in(&app, &app.secret).await;
    let put = |origin: Option<&str>, token: Option<&str>| {
        let mut req = app
            .client
            .put(dapi(&app, "/folders"))
            .header(header::COOKIE, &s.cookie)
            .json(&json!({"folderPath": "/made"}));
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    // No token; wrong token; no Origin; foreign Origin: refused.
    assert_eq!(put(Some(&app.url), None).await.unwrap().status(), 403);
    assert_eq!(
        put(Some(&app.url), Some("wrong")).await.unwrap().status(),
        403
    );
    assert_eq!(put(None, Some(&s.csrf)).await.unwrap().status(), 403);
    let res = put(Some("http://evil.example"), Some(&s.csrf))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["suggestion"].is_string());
    // Sign-in from another origin (login CSRF) is refused too.
    let res = app
        .client
        .post(format!("{}/dashboard/session", app.url))
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, "http://evil.example")
        .form(&[("key", app.secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Cross-site reads are refused (Sec-Fetch-Site), same-origin ones pass.
    let res = app
        .client
        .get(dapi(&app, "/folders/list?folderPath=/"))
        .header(header::COOKIE, &s.cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Same origin with the token: done.
    let res = put(Some(&app.url), Some(&s.csrf)).await.unwrap();
    assert_eq!(res.status(), 200);
    // Sign-out needs the token too, then clears the cookie.
    let out = app
        .client
        .delete(format!("{}/dashboard/session", app.url))
        .header(header::COOKIE, &s.cookie)
        .header(header::ORIGIN, &app.url)
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}
both!(csrf_and_origin);

async fn rights_are_the_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.upload(&app.secret, "/a/x.txt", "x").await.status(), 200);
    assert_eq!(app.upload(&app.secret, "/b/y.txt", "y").await.status(), 200);
    let key = app.key(KeyType::Secret, &["/a/*:read,list"]).await;
    let s = sign_in(&app, &key).await;
    let get = |url: String| {
        app.client
            .get(url)
            .header(header::COOKIE, &s.cookie)
            // Credential headers on /dashboard/api are ignored.
            .bearer_auth(&app.secret)
            .send()
    };
    assert_eq!(
        get(dapi(&app, "/files/details?filePath=/a/x.txt"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(dapi(&app, "/files/details?filePath=/b/y.txt"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(get(dapi(&app, "/api_keys")).await.unwrap().status(), 403);
    let raw = get(format!(
        "{}/dashboard/api/{}/raw/a/x.txt",
        app.url, app.account
    ))
    .await
    .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.text().await.unwrap(), "x");
    let del = app
        .client
        .delete(dapi(&app, "/files?filePath=/a/x.txt"))
        .header(header::COOKIE, &s.cookie)
        .header(header::ORIGIN, &app.url)
        .header("x-csrf-token", &s.csrf)
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 403);
    // /dashboard/me reports the key's rules and capabilities.
    let me: Value = get(format!("{}/dashboard/me", app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["key"]["rules"][0]["path"], "/a/*");
    assert_eq!(me["capabilities"]["read"], true);
    assert_eq!(me["capabilities"]["delete"], false);
    assert_eq!(me["capabilities"]["admin"], false);
    // Account totals need list/admin on the root: this key has neither.
    assert_eq!(
        get(format!("{}/dashboard/account", app.url))
            .await
            .unwrap()
            .status(),
        403
    );
    let full = sign_in(&app, &app.secret).await;
    let acc: Value = app
        .client
        .get(format!("{}/dashboard/account", app.url))
        .header(header::COOKIE, &full.cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(acc["usage"]["files"], 2);
    assert_eq!(acc["usage"]["bytes"], 2);
}
both!(rights_are_the_keys);

async fn assets_are_immutable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .client
        .get(format!("{}/dashboard", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let page = res.text().await.unwrap();
    assert!(page.contains("Secret key") && page.contains("Sign in"));
    let js = page
        .split("src=\"")
        .find_map(|s| s.split('"').next().filter(|h| h.ends_with("/app.js")))
        .unwrap()
        .to_string();
    assert!(js.starts_with("/dashboard/assets/"), "{js}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no other origin"
    );
    let res = app
        .client
        .get(format!("{}{js}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let res = app
        .client
        .get(format!("{}/dashboard/assets/000000000000/app.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
both!(assets_are_immutable);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_dashboard_is_404() {
    let dir = tempfile::tempdir().unwrap();
    let meta: stowage::meta::Meta = Arc::new(
        stowage::meta::SqliteMeta::connect(&format!(
            "sqlite://{}/stowage.db",
            dir.path().display()
        ))
        .await
        .unwrap(),
    );
    let blobs =
        stowage::blobs::Blobs::from_url(&format!("file://{}/blobs", dir.path().display())).unwrap();
    let mut config = stowage::config::Config::default();
    config
        .apply_env(|k| (k == "STOWAGE_DASHBOARD").then(|| "false".to_string()))
        .unwrap();
    assert!(!config.dashboard);
    config.data_dir = dir.path().display().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state =
        stowage::state::AppState::new(config, meta, blobs, rand::random(), url.clone()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(stowage::server::serve(state, listener, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    for path in [
        "/dashboard",
        "/dashboard/me",
        "/dashboard/api/v2/accounts/A623uY2/folders/list?folderPath=/",
        "/dashboard/assets/000000000000/app.js",
    ] {
        let res = client.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "route_not_found");
    }
    let res = client
        .post(format!("{url}/dashboard/session"))
        .form(&[("key", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let _ = tx.send(());
    let _ = server.await;
}
