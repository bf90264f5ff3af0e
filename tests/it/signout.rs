//! Dashboard sign-out ends the session on the server, on every node (SPEC §10):
//! the old cookie, replayed, opens nothing; another session of the same key
//! signed in separately keeps working.

use crate::both;
use crate::common::{Backend, TestApp};
use reqwest::header;
use serde_json::Value;
use std::time::{Duration, Instant};

struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, key: &str) -> Session {
    let res = app
        .client
        .post(format!("{}/dashboard/session", app.url))
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, &app.url)
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set = res.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_string();
    let page = shell(app, &cookie).await;
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .expect("signed-in page")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    Session { cookie, csrf }
}

async fn shell(app: &TestApp, cookie: &str) -> String {
    app.client
        .get(format!("{}/dashboard", app.url))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `GET /dashboard/me` with the cookie: status and error code, if any.
async fn me(app: &TestApp, s: &Session) -> (u16, Option<String>) {
    let res = app
        .client
        .get(format!("{}/dashboard/me", app.url))
        .header(header::COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().map(str::to_string);
    if status == 200 {
        assert!(body["accountId"].is_string(), "{body}");
    }
    (status, code)
}

/// A dashboard API read with the cookie.
async fn list(app: &TestApp, s: &Session) -> u16 {
    app.client
        .get(format!(
            "{}/dashboard/api/v2/accounts/{}/folders/list?folderPath=/",
            app.url, app.account
        ))
        .header(header::COOKIE, &s.cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sign_out(app: &TestApp, s: &Session) -> u16 {
    app.client
        .delete(format!("{}/dashboard/session", app.url))
        .header(header::COOKIE, &s.cookie)
        .header(header::ORIGIN, &app.url)
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn ended() -> (u16, Option<String>) {
    (401, Some("dashboard_session_required".to_string()))
}

async fn sign_out_ends_the_session_on_every_node(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let peer = app.spawn_peer().await;
    let first = sign_in(&app, &app.secret).await;
    let second = sign_in(&app, &app.secret).await;
    for node in [&app, &peer] {
        assert_eq!(me(node, &first).await.0, 200);
        assert_eq!(list(node, &first).await, 200);
        assert_eq!(me(node, &second).await.0, 200);
    }

    assert_eq!(sign_out(&app, &first).await, 204);
    let signed_out = Instant::now();
    // The node that signed out refuses the old cookie at once.
    assert_eq!(me(&app, &first).await, ended());
    assert_eq!(list(&app, &first).await, 401);
    assert!(
        !shell(&app, &first.cookie).await.contains("csrf-token"),
        "the page shows the sign-in form"
    );
    // A node that had the session in its caches follows within a second.
    TestApp::eventually(
        Duration::from_millis(1500),
        "peer ends the session",
        || async { me(&peer, &first).await == ended() },
    )
    .await;
    assert!(signed_out.elapsed() < Duration::from_millis(1500));
    assert_eq!(list(&peer, &first).await, 401);
    // A node that never saw it refuses it at once.
    let fresh = app.spawn_peer().await;
    assert_eq!(me(&fresh, &first).await, ended());
    // State-changing requests with the old cookie and its CSRF token too.
    let put = fresh
        .client
        .put(format!(
            "{}/dashboard/api/v2/accounts/{}/folders",
            fresh.url, fresh.account
        ))
        .header(header::COOKIE, &first.cookie)
        .header(header::ORIGIN, &fresh.url)
        .header("x-csrf-token", &first.csrf)
        .json(&serde_json::json!({"folderPath": "/after-sign-out"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 401);
    let folder = app
        .state
        .meta
        .get_folder(&app.account, "/after-sign-out")
        .await
        .unwrap();
    assert!(folder.is_none(), "nothing was changed");

    // The other session of the same key, signed in separately, keeps working.
    for node in [&app, &peer, &fresh] {
        assert_eq!(me(node, &second).await.0, 200);
        assert_eq!(list(node, &second).await, 200);
    }
    // Signing out again with the old cookie changes nothing.
    assert_eq!(sign_out(&peer, &first).await, 204);
    assert_eq!(me(&peer, &second).await.0, 200);
    assert_eq!(sign_out(&peer, &second).await, 204);
    assert_eq!(me(&peer, &second).await, ended());
    TestApp::eventually(
        Duration::from_millis(1500),
        "the first node follows",
        || async { me(&app, &second).await == ended() },
    )
    .await;
}
both!(sign_out_ends_the_session_on_every_node);
