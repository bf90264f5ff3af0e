//! SPEC §6 session for `<img>` tags, and the credentialed CORS of §9.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::jwt::{claims, now, register, rsa, sign};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

const ORIGIN: &str = "http://app.test:3000";

async fn app_with_private_file(b: Backend) -> (TestApp, String) {
    let app = TestApp::spawn_with(
        b,
        Options {
            allowed_origins: ORIGIN.into(),
            ..Options::default()
        },
    )
    .await;
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    app.put("/private/x.png", b"png").await;
    app.put("/public/y.png", b"png").await;
    let resp = app
        .client
        .put(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": "/private", "folderSettings": {"publicPermissions": {"set": true, "value": []}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    (app, kid)
}

fn reader_claims(app: &TestApp, exp_in: i64) -> Value {
    let mut c = claims(app);
    c["exp"] = json!(now() + exp_in);
    c["iat"] = json!(now() - 10);
    c["access"]["pathPermissions"] = json!([{
        "match": {"path": "/private", "scope": "Children"},
        "permissions": {"read": {"file": {"downloadFile": ["*"]}}}
    }]);
    c
}

async fn register_session(app: &TestApp, token: &str, set_cookie: bool) -> reqwest::Response {
    app.client
        .put(format!(
            "{}/api/v1/access_tokens/{}?set-cookie={set_cookie}",
            app.url, app.account
        ))
        .header("origin", ORIGIN)
        .json(&json!({ "accessToken": token }))
        .send()
        .await
        .unwrap()
}

async fn cdn_get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.raw(path)).header("origin", ORIGIN);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

async fn cookie_session_shows_private_files(b: Backend) {
    let (app, kid) = app_with_private_file(b).await;
    let token = sign(
        Algorithm::RS256,
        rsa(),
        Some(&kid),
        &reader_claims(&app, 600),
    );
    let resp = register_session(&app, &token, true).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["accessToken"], token);
    let ttl = body["ttlSeconds"].as_i64().unwrap();
    assert!((590..=600).contains(&ttl), "{ttl}");
    let name = format!("access-token-{}", app.account);
    assert!(
        set_cookie.starts_with(&format!("{name}={token}")),
        "{set_cookie}"
    );
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        &format!("Path=/{}/", app.account),
        &format!("Max-Age={ttl}"),
    ] {
        assert!(set_cookie.contains(attr), "{attr} missing in {set_cookie}");
    }
    let cookie = format!("{name}={token}");
    // With the cookie, with or without auth=true: 200 private, credentialed CORS.
    for path in ["/private/x.png", "/private/x.png?auth=true"] {
        let resp = cdn_get(&app, path, Some(&cookie)).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");
        assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
        assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"png");
    }
    // Without it: 401.
    assert_eq!(cdn_get(&app, "/private/x.png", None).await.status(), 401);
    // The cookie is only for CDN reads: API routes ignore it.
    let resp = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/private/x.png")])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // set-cookie=false answers the same JSON without a cookie.
    let resp = register_session(&app, &token, false).await;
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers().contains_key("set-cookie"));
    // DELETE clears it.
    let resp = app
        .client
        .delete(format!(
            "{}/api/v1/access_tokens/{}?set-cookie=true",
            app.url, app.account
        ))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let cleared = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with(&format!("{name}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}
both!(cookie_session_shows_private_files);

async fn bad_cookies_and_tokens(b: Backend) {
    let (app, kid) = app_with_private_file(b).await;
    let name = format!("access-token-{}", app.account);
    let expired = sign(
        Algorithm::RS256,
        rsa(),
        Some(&kid),
        &reader_claims(&app, -120),
    );
    // Registering an expired JWT: 401 in the SPEC §8 shape.
    let resp = register_session(&app, &expired, true).await;
    assert_eq!(resp.status(), 401);
    assert!(!resp.headers().contains_key("set-cookie"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "token_expired");
    assert!(body["error"]["suggestion"].is_string());
    // An expired or garbage cookie is ignored: public files still load, private
    // ones are 401 as for anyone anonymous.
    for cookie in [
        format!("{name}={expired}"),
        format!("{name}=garbage"),
        "other=1".into(),
    ] {
        assert_eq!(
            cdn_get(&app, "/public/y.png", Some(&cookie)).await.status(),
            200,
            "{cookie}"
        );
        assert_eq!(
            cdn_get(&app, "/private/x.png", Some(&cookie))
                .await
                .status(),
            401,
            "{cookie}"
        );
    }
    // Another account's cookie name does nothing here.
    let token = sign(
        Algorithm::RS256,
        rsa(),
        Some(&kid),
        &reader_claims(&app, 600),
    );
    let resp = cdn_get(
        &app,
        "/private/x.png",
        Some(&format!("access-token-OTHER12={token}")),
    )
    .await;
    assert_eq!(resp.status(), 401);
    // Missing body field.
    let resp = app
        .client
        .put(format!("{}/api/v1/access_tokens/{}", app.url, app.account))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_request"
    );
}
both!(bad_cookies_and_tokens);

async fn cors_preflights_and_origins(b: Backend) {
    let (app, _) = app_with_private_file(b).await;
    // Session endpoint preflight from an allowed origin: exact origin + credentials.
    let resp = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/access_tokens/{}", app.url, app.account),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    assert!(resp.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    // Not on the list: "*" and no credentials.
    let resp = cdn_get_from(&app, "/public/y.png", "http://evil.test").await;
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(!resp
        .headers()
        .contains_key("access-control-allow-credentials"));
    // API routes: any origin, no credentials, ETag exposed, preflight for the
    // part PUT and the SDK's headers.
    let resp = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.api("/uploads/abc/parts/0/bytes"),
        )
        .header("origin", "http://anywhere.test")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.api("/uploads"))
        .header("origin", "http://anywhere.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,authorization-token,content-type,x-upload-metadata",
        )
        .send()
        .await
        .unwrap();
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "authorization-token",
        "content-type",
        "x-upload-metadata",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    let resp = app
        .client
        .get(app.api("/files/details?filePath=/public/y.png"))
        .bearer_auth(&app.secret)
        .header("origin", "http://anywhere.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-request-id"),
        "{exposed}"
    );
}
both!(cors_preflights_and_origins);

async fn cdn_get_from(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(app.raw(path))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}
