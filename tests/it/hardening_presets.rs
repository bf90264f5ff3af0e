//! Issue #25 (second security pass) and #32: preset URLs are exactly their
//! preset (SPEC §6.1), links and copies need read of the original (SPEC §6),
//! unknown presets answer only after the permission check, and unknown API
//! paths never fall into the CDN routes.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::images::{decode, encoded, error, get, image_url};
use crate::jwt::{now, register, rsa, sign};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use stowage::auth::keys::KeyType;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    encoded(&DynamicImage::ImageRgb8(img), ImageFormat::Png)
}

async fn put_preset(app: &TestApp, name: &str, params: &str) {
    let resp = app
        .client
        .put(app.api(&format!("/transformations/{name}")))
        .bearer_auth(&app.secret)
        .json(&json!({ "params": params }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn visibility(app: &TestApp, folder: &str, slugs: &[&str]) {
    let entries: Vec<Value> = ["Children", "Grandchildren+"]
        .iter()
        .map(|s| json!({"scope": s, "permissions": {"file": {"downloadFile": slugs}}}))
        .collect();
    let resp = app
        .client
        .put(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": folder,
            "folderSettings": {"publicPermissions": {"set": true, "value": entries}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Registers the test RSA key with `app`; returns its kid.
async fn kid(app: &TestApp) -> String {
    register(app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A JWT for `app` (signed with `kid`) with these `pathPermissions` entries.
fn jwt(app: &TestApp, kid: &str, permissions: Value) -> String {
    let claims = json!({
        "sub": "u", "iat": now() - 5, "exp": now() + 600, "accountId": app.account,
        "access": {"pathPermissions": permissions}
    });
    format!(
        "Bearer {}",
        sign(Algorithm::RS256, rsa(), Some(kid), &claims)
    )
}

/// Status and error code of a GET.
async fn code_of(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let (s, _, body) = get(app, url, headers).await;
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
    (s, code)
}

async fn preset_urls_are_exact(b: Backend) {
    let app = TestApp::spawn(b).await;
    put_preset(&app, "thumbnail", "w=48&h=48").await;
    app.put("/lim/a.png", &png(900, 600)).await;
    visibility(&app, "/lim", &["thumbnail"]).await;

    // Geometry on a preset URL: 400 naming the parameter, whoever asks.
    let whole = image_url(&app, "thumbnail", "/lim/a.png?w=8192&h=8192&fit=max&f=png");
    let (s, h, body) = get(&app, &whole, &[]).await;
    assert_eq!(s, 400, "{} bytes", body.len());
    assert_eq!(error(&body)["code"], "invalid_transformation");
    assert_eq!(error(&body)["details"]["parameter"], "w");
    assert!(h
        .get("cache-control")
        .is_none_or(|v| v != "public, max-age=3600"));
    let bearer = format!("Bearer {}", app.secret);
    for (query, name) in [
        ("w=900", "w"),
        ("h=600", "h"),
        ("fit=crop", "fit"),
        ("f=png&bg=ff0000", "bg"),
        ("w=48", "w"),
    ] {
        for headers in [&[][..], &[("authorization", bearer.as_str())][..]] {
            let url = image_url(&app, "thumbnail", &format!("/lim/a.png?{query}"));
            let (s, _, body) = get(&app, &url, headers).await;
            assert_eq!(s, 400, "{query}");
            assert_eq!(error(&body)["details"]["parameter"], name, "{query}");
        }
    }

    // Format, quality and the CDN query still apply; the size stays the preset's.
    let url = image_url(&app, "thumbnail", "/lim/a.png?f=webp&q=50");
    let (s, h, body) = get(&app, &url, &[]).await;
    assert_eq!(
        s,
        200,
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    assert_eq!(h["content-type"], "image/webp");
    assert_eq!(h["cache-control"], "public, max-age=3600");
    let img = decode(&body);
    assert!(
        img.width() <= 48 && img.height() <= 48,
        "{}x{}",
        img.width(),
        img.height()
    );
    assert_eq!((img.width(), img.height()), (48, 32));
    let url = image_url(
        &app,
        "thumbnail",
        "/lim/a.png?f=jpg&f2=png&download=true&cache_ttl=60&version=2&auth=true&artifact=/x&cache=false&cache_only=false&cache_perm=auto",
    );
    let (s, h, body) = get(&app, &url, &[]).await;
    assert_eq!(
        s,
        200,
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    assert_eq!(h["cache-control"], "public, max-age=60");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let img = decode(&body);
    assert!(img.width() <= 48 && img.height() <= 48);

    // The original and /image/ stay private.
    assert_eq!(code_of(&app, &app.raw("/lim/a.png"), &[]).await.0, 401);
    let url = image_url(&app, "image", "/lim/a.png?w=8192&h=8192&fit=max&f=png");
    assert_eq!(code_of(&app, &url, &[]).await.0, 401);
    // /image/ keeps its geometry for those who may read it.
    let url = image_url(&app, "image", "/lim/a.png?w=90&f=png");
    let (s, _, body) = get(&app, &url, &[("authorization", &bearer)]).await;
    assert_eq!(s, 200);
    assert_eq!(decode(&body).width(), 90);
}
both!(preset_urls_are_exact);

async fn signed_url(app: &TestApp, auth: &str, path: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.api("/files/signed_url"))
        .header("authorization", auth)
        .json(&json!({"filePath": path, "expires_in": 60}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn copy(app: &TestApp, auth: &str, source: &str, destination: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.api("/files/copy"))
        .header("authorization", auth)
        .json(&json!({"source": source, "destination": destination}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A JWT reading `/priv`'s children through `slugs` (with file details),
/// creating in `/pub`.
fn reader_jwt(app: &TestApp, kid: &str, slugs: &[&str]) -> String {
    jwt(
        app,
        kid,
        json!([
            {"match": {"path": "/priv", "scope": "Children"},
             "permissions": {"read": {"file": {"downloadFile": slugs, "getFileDetails": true}}}},
            {"match": {"path": "/pub", "scope": "Children"},
             "permissions": {"write": {"file": {"createFile": true}}}}
        ]),
    )
}

async fn links_and_copies_need_the_original(b: Backend) {
    let app = TestApp::spawn(b).await;
    put_preset(&app, "thumbnail", "w=48&h=48").await;
    let original = png(90, 60);
    app.put("/priv/a.png", &original).await;
    visibility(&app, "/priv", &[]).await;

    let kid = kid(&app).await;
    let thumb_only = reader_jwt(&app, &kid, &["thumbnail"]);
    let h = [("authorization", thumb_only.as_str())];
    // What this JWT may do: the preset and the file's details, not the original.
    let url = image_url(&app, "thumbnail", "/priv/a.png");
    assert_eq!(code_of(&app, &url, &h).await.0, 200);
    assert_eq!(code_of(&app, &app.raw("/priv/a.png"), &h).await.0, 403);
    let details = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/priv/a.png")])
        .header("authorization", &thumb_only)
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), 200);

    // So neither a link to the original nor a copy of it.
    let (s, v) = signed_url(&app, &thumb_only, "/priv/a.png").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    assert!(v.get("url").is_none());
    let (s, v) = copy(&app, &thumb_only, "/priv/a.png", "/pub/b.png").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    assert_eq!(app.get_bytes("/pub/b.png").await.0, 404, "nothing copied");
    // Same answer for a file that does not exist (nothing leaks).
    assert_eq!(signed_url(&app, &thumb_only, "/priv/none.png").await.0, 403);
    // Anonymous: 401.
    let resp = app
        .client
        .post(app.api("/files/signed_url"))
        .json(&json!({"filePath": "/priv/a.png"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A JWT that may read the original may do both.
    let raw_reader = reader_jwt(&app, &kid, &["raw"]);
    let (s, v) = signed_url(&app, &raw_reader, "/priv/a.png").await;
    assert_eq!(s, 200, "{v}");
    let resp = app
        .client
        .get(v["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), original.as_slice());
    let (s, v) = copy(&app, &raw_reader, "/priv/a.png", "/pub/b.png").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.get_bytes("/pub/b.png").await.1, original);
    // So do keys with read (rules or none).
    let key = app
        .key(KeyType::Secret, &["/priv/*:read", "/pub/*:create"])
        .await;
    let bearer = format!("Bearer {key}");
    assert_eq!(signed_url(&app, &bearer, "/priv/a.png").await.0, 200);
    assert_eq!(
        copy(&app, &bearer, "/priv/a.png", "/pub/c.png").await.0,
        200
    );
    let secret = format!("Bearer {}", app.secret);
    assert_eq!(signed_url(&app, &secret, "/priv/a.png").await.0, 200);
    // A key without read on the source: 403 on both.
    let other = format!(
        "Bearer {}",
        app.key(KeyType::Secret, &["/pub/*:read,create"]).await
    );
    assert_eq!(signed_url(&app, &other, "/priv/a.png").await.0, 403);
    assert_eq!(copy(&app, &other, "/priv/a.png", "/pub/d.png").await.0, 403);
}
both!(links_and_copies_need_the_original);

async fn unknown_presets_answer_after_the_permission_check(b: Backend) {
    let app = TestApp::spawn(b).await;
    put_preset(&app, "thumbnail", "w=48&h=48").await;
    app.put("/private/a.png", &png(30, 20)).await;
    app.put("/open/a.png", &png(30, 20)).await;
    visibility(&app, "/private", &[]).await;

    let unknown = image_url(&app, "no-such-preset", "/private/a.png");
    let missing = image_url(&app, "no-such-preset", "/private/none.png");
    let unauthorized = (401, Some("unauthorized".to_string()));
    let forbidden = (403, Some("forbidden".to_string()));
    let not_found = (404, Some("preset_not_found".to_string()));
    // Anonymous: 401, whether the preset or the file exists or not.
    assert_eq!(code_of(&app, &unknown, &[]).await, unauthorized);
    assert_eq!(code_of(&app, &missing, &[]).await, unauthorized);
    let known = image_url(&app, "thumbnail", "/private/a.png");
    assert_eq!(code_of(&app, &known, &[]).await, unauthorized);
    // Authenticated without read of the file: 403.
    let other = format!(
        "Bearer {}",
        app.key(KeyType::Secret, &["/open/*:read"]).await
    );
    let h = [("authorization", other.as_str())];
    assert_eq!(code_of(&app, &unknown, &h).await, forbidden);
    assert_eq!(code_of(&app, &missing, &h).await, forbidden);
    // A JWT that may read only `thumbnail` there may not read another slug.
    let kid = kid(&app).await;
    let thumb = jwt(
        &app,
        &kid,
        json!([{"match": {"path": "/private", "scope": "Children"},
            "permissions": {"read": {"file": {"downloadFile": ["thumbnail"]}}}}]),
    );
    let h = [("authorization", thumb.as_str())];
    assert_eq!(code_of(&app, &unknown, &h).await, forbidden);
    assert_eq!(code_of(&app, &known, &h).await.0, 200);
    // Those allowed to read the file learn that the preset does not exist.
    let secret = format!("Bearer {}", app.secret);
    let h = [("authorization", secret.as_str())];
    assert_eq!(code_of(&app, &unknown, &h).await, not_found);
    // A public file: anyone may read it, so anyone learns it.
    let open = image_url(&app, "no-such-preset", "/open/a.png");
    assert_eq!(code_of(&app, &open, &[]).await, not_found);
}
both!(unknown_presets_answer_after_the_permission_check);

async fn unknown_api_paths_are_route_not_found(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/a.png", &png(10, 10)).await;
    let acc = &app.account;
    let secret = format!("Bearer {}", app.secret);
    let auth = [("authorization", secret.as_str())];
    let route_not_found = (404, Some("route_not_found".to_string()));
    let paths = [
        format!("/v2/accounts/{acc}/nonexistent?x=1"),
        format!("/v2/accounts/{acc}/files/nope"),
        format!("/v2/accounts/{acc}/files/find?folderPath=/"),
        format!("/v2/accounts/{acc}/raw/a.png"),
        format!("/v2/{acc}/image/a.png?w=5"),
        "/v2/raw/a.png".to_string(),
        "/api/v1/nothing/here".to_string(),
        "/api/raw/a.png".to_string(),
        "/dashboard/nothing/here".to_string(),
        "/dashboard/raw/a.png".to_string(),
        // First segments that are not account ids (7 base58 characters).
        "/abc/raw/a.png".to_string(),
        "/abcdefgh/raw/a.png".to_string(),
        "/AAAAAA0/raw/a.png".to_string(),
        "/AAAAAAl/image/a.png?w=4".to_string(),
        format!("/{acc}x/thumbnail/a.png"),
    ];
    for path in &paths {
        let url = format!("{}{path}", app.url);
        assert_eq!(code_of(&app, &url, &[]).await, route_not_found, "{path}");
        assert_eq!(code_of(&app, &url, &auth).await, route_not_found, "{path}");
        let head = app.client.head(&url).send().await.unwrap();
        assert_eq!(head.status(), 404, "HEAD {path}");
    }
    // Real routes are untouched.
    let details = app.api("/files/details?filePath=/a.png");
    assert_eq!(code_of(&app, &details, &auth).await.0, 200);
    assert_eq!(code_of(&app, &app.raw("/a.png"), &[]).await.0, 200);
    let url = image_url(&app, "image", "/a.png?w=4");
    assert_eq!(code_of(&app, &url, &[]).await.0, 200);
    let url = image_url(&app, "nope", "/a.png");
    assert_eq!(
        code_of(&app, &url, &[]).await.1.as_deref(),
        Some("preset_not_found")
    );
    // A well-formed account id that holds nothing is not a routing question.
    let url = format!("{}/zzzzzzz/raw/a.png", app.url);
    assert_ne!(code_of(&app, &url, &[]).await, route_not_found);
    // The dashboard's own routes answer as before.
    let (s, h, _) = get(&app, &format!("{}/dashboard", app.url), &[]).await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let me = code_of(&app, &format!("{}/dashboard/me", app.url), &[]).await;
    assert_ne!(me, route_not_found);
}
both!(unknown_api_paths_are_route_not_found);

async fn dashboard_api_unknown_paths(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/a.png", &png(10, 10)).await;
    let signed = app
        .client
        .post(format!("{}/dashboard/session", app.url))
        .header("accept", "application/json")
        .header("origin", &app.url)
        .form(&[("key", app.secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let h = [("cookie", cookie.as_str())];
    let base = format!("{}/dashboard/api", app.url);
    let acc = &app.account;
    for rest in [
        format!("/v2/accounts/{acc}/nonexistent?x=1"),
        format!("/v2/accounts/{acc}/files/nope"),
        "/v2/raw/a.png".to_string(),
    ] {
        let got = code_of(&app, &format!("{base}{rest}"), &h).await;
        assert_eq!(got, (404, Some("route_not_found".into())), "{rest}");
    }
    // Its own API and thumbnails still work.
    let url = format!("{base}/v2/accounts/{acc}/files/details?filePath=/a.png");
    assert_eq!(code_of(&app, &url, &h).await.0, 200);
    let url = format!("{base}/{acc}/image/a.png?w=4");
    let (s, _, body) = get(&app, &url, &h).await;
    assert_eq!(s, 200);
    assert_eq!(decode(&body).width(), 4);
}
both!(dashboard_api_unknown_paths);
