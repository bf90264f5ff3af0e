//! SPEC §6.1 permissions (slugs, Limited folders, JWT `downloadFile`, cookie
//! sessions, the dashboard) and presets (API and CLI).

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::images::{decode, error, get, image_url, jpeg};
use crate::jwt::{now, register, rsa, sign};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use stowage::auth::keys::KeyType;

async fn put_preset(app: &TestApp, key: &str, name: &str, params: &str) -> (u16, Value) {
    let resp = app
        .client
        .put(app.api(&format!("/transformations/{name}")))
        .bearer_auth(key)
        .json(&json!({ "params": params }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
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

async fn status_of(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> u16 {
    get(app, url, headers).await.0
}

async fn limited_folder_and_jwt_slugs(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert_eq!(
        put_preset(&app, &app.secret, "thumbnail", "w=16&h=16&fit=crop")
            .await
            .0,
        200
    );
    app.put("/lim/a.jpg", &jpeg(64, 32)).await;
    app.put("/priv/a.jpg", &jpeg(64, 32)).await;
    visibility(&app, "/lim", &["thumbnail"]).await;
    visibility(&app, "/priv", &[]).await;

    // Limited ["thumbnail"]: anyone gets the preset, not the original nor /image/.
    let (s, h, body) = get(&app, &image_url(&app, "thumbnail", "/lim/a.jpg"), &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["cache-control"], "public, max-age=3600");
    let img = decode(&body);
    assert_eq!((img.width(), img.height()), (16, 16));
    for slug in ["raw", "image"] {
        let url = image_url(&app, slug, "/lim/a.jpg?w=8");
        let url = if slug == "raw" {
            app.raw("/lim/a.jpg")
        } else {
            url
        };
        let (s, _, body) = get(&app, &url, &[]).await;
        assert_eq!(
            (s, error(&body)["code"].as_str()),
            (401, Some("unauthorized")),
            "{slug}"
        );
    }
    // A preset URL is exactly its preset: its query changes the format, not
    // the geometry (SPEC §6.1; hardening_presets.rs covers it in full).
    let (s, _, body) = get(
        &app,
        &image_url(&app, "thumbnail", "/lim/a.jpg?w=8&h=8"),
        &[],
    )
    .await;
    assert_eq!(
        (s, error(&body)["code"].as_str()),
        (400, Some("invalid_transformation"))
    );
    let (s, h, body) = get(&app, &image_url(&app, "thumbnail", "/lim/a.jpg?f=png"), &[]).await;
    assert_eq!((s, h["content-type"].to_str().unwrap()), (200, "image/png"));
    let img = decode(&body);
    assert_eq!((img.width(), img.height()), (16, 16));
    // API keys read every slug; a key without read on the path reads none.
    assert_eq!(
        status_of(
            &app,
            &image_url(&app, "image", "/priv/a.jpg?w=8"),
            &[("authorization", &format!("Bearer {}", app.secret))]
        )
        .await,
        200
    );
    let other = app.key(KeyType::Secret, &["/lim/**:read"]).await;
    let auth = format!("Bearer {other}");
    assert_eq!(
        status_of(
            &app,
            &image_url(&app, "thumbnail", "/priv/a.jpg"),
            &[("authorization", &auth)]
        )
        .await,
        403
    );

    // JWT downloadFile ["thumbnail"] on /priv: the preset, not raw nor image.
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let claims = json!({
        "sub": "u", "iat": now() - 5, "exp": now() + 600, "accountId": app.account,
        "access": {"pathPermissions": [{"match": {"path": "/priv", "scope": "Children"},
            "permissions": {"read": {"file": {"downloadFile": ["thumbnail"]}}}}]}
    });
    let token = sign(Algorithm::RS256, rsa(), Some(&kid), &claims);
    let bearer = format!("Bearer {token}");
    let h = [("authorization", bearer.as_str())];
    let (s, head, _) = get(&app, &image_url(&app, "thumbnail", "/priv/a.jpg"), &h).await;
    assert_eq!(s, 200);
    assert!(head["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("private"));
    assert_eq!(status_of(&app, &app.raw("/priv/a.jpg"), &h).await, 403);
    assert_eq!(
        status_of(&app, &image_url(&app, "image", "/priv/a.jpg?w=8"), &h).await,
        403
    );
    let details = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/priv/a.jpg")])
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        details.status(),
        403,
        "a thumbnail grant is not file details"
    );
}
both!(limited_folder_and_jwt_slugs);

async fn cookie_session_and_dashboard(b: Backend) {
    const ORIGIN: &str = "http://app.test:3000";
    let opts = Options {
        allowed_origins: ORIGIN.into(),
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    app.put("/private/p.jpg", &jpeg(40, 40)).await;
    visibility(&app, "/private", &[]).await;
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let claims = json!({
        "sub": "u", "iat": now() - 5, "exp": now() + 600, "accountId": app.account,
        "access": {"pathPermissions": [{"match": {"path": "/private", "scope": "Children"},
            "permissions": {"read": {"file": {"downloadFile": ["*"]}}}}]}
    });
    let token = sign(Algorithm::RS256, rsa(), Some(&kid), &claims);
    let resp = app
        .client
        .put(format!(
            "{}/api/v1/access_tokens/{}?set-cookie=true",
            app.url, app.account
        ))
        .header("origin", ORIGIN)
        .json(&json!({ "accessToken": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let url = image_url(&app, "image", "/private/p.jpg?w=10&f=webp");
    assert_eq!(status_of(&app, &url, &[]).await, 401);
    let (s, h, body) = get(&app, &url, &[("cookie", &cookie), ("origin", ORIGIN)]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "image/webp");
    assert_eq!(decode(&body).width(), 10);
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    // The dashboard's session (its own cookie, the key's rights) shows
    // thumbnails of private files through /dashboard/api/{acc}/image/….
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
    let dash = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let durl = format!(
        "{}/dashboard/api/{}/image/private/p.jpg?w=12",
        app.url, app.account
    );
    let (s, _, body) = get(&app, &durl, &[("cookie", &dash)]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(decode(&body).width(), 12);
    // A bad cookie is ignored: anonymous, so 401 on a private file.
    assert_eq!(
        status_of(
            &app,
            &url,
            &[("cookie", &format!("access-token-{}=junk", app.account))]
        )
        .await,
        401
    );
}
both!(cookie_session_and_dashboard);

async fn presets_crud(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, v) = put_preset(&app, &app.secret, "thumb-1", "w=200&h=200&fit=crop").await;
    assert_eq!(s, 200);
    assert_eq!(v["preset"], "thumb-1");
    assert_eq!(v["params"], "w=200&h=200&fit=crop");
    assert!(v["createdAt"].as_i64().unwrap() > 0);
    let (s, v2) = put_preset(&app, &app.secret, "thumb-1", "w=100").await;
    assert_eq!((s, &v2["params"]), (200, &json!("w=100")));
    assert_eq!(v2["createdAt"], v["createdAt"], "replacing keeps createdAt");
    put_preset(&app, &app.secret, "a-first", "f=webp").await;
    let list: Value = app
        .client
        .get(app.api("/transformations"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["preset"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a-first", "thumb-1"]);

    for name in [
        "raw",
        "image",
        "save",
        "api",
        "v2",
        "dashboard",
        "tus",
        "Thumb",
        "a_b",
        &"x".repeat(65),
    ] {
        let (s, v) = put_preset(&app, &app.secret, name, "w=1").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{name}"
        );
    }
    let (s, v) = put_preset(&app, &app.secret, "bad", "w=1&zoom=2").await;
    assert_eq!(
        (s, &v["error"]["details"]["parameter"]),
        (400, &json!("zoom"))
    );
    assert_eq!(v["error"]["code"], "invalid_transformation");
    // Needs admin: a public key, and a key with rules but no admin, are refused.
    assert_eq!(put_preset(&app, &app.public, "p", "w=1").await.0, 403);
    let ruled = app.key(KeyType::Secret, &["/**:read,create"]).await;
    assert_eq!(put_preset(&app, &ruled, "p", "w=1").await.0, 403);
    let anon = app
        .client
        .put(app.api("/transformations/p"))
        .json(&json!({"params": "w=1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    let del = |name: &str| {
        app.client
            .delete(app.api(&format!("/transformations/{name}")))
            .bearer_auth(&app.secret)
            .send()
    };
    assert_eq!(del("thumb-1").await.unwrap().status(), 204);
    let again = del("thumb-1").await.unwrap();
    assert_eq!(again.status(), 404);
    let v: Value = again.json().await.unwrap();
    assert_eq!(v["error"]["code"], "preset_not_found");
    app.put("/x.jpg", &jpeg(10, 10)).await;
    let (s, _, body) = get(&app, &image_url(&app, "thumb-1", "/x.jpg"), &[]).await;
    assert_eq!(
        (s, error(&body)["code"].as_str()),
        (404, Some("preset_not_found"))
    );
}
both!(presets_crud);

#[test]
fn presets_cli() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stowage"))
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("STOWAGE_STORAGE_URL")
            .env_remove("STOWAGE_SECRET_KEY")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, acc, _) = run(&["accounts", "create"]);
    assert!(ok);
    let acc = acc.trim().to_string();
    let (ok, out, err) = run(&[
        "presets",
        "set",
        "--account",
        &acc,
        "thumb",
        "w=200&h=200&fit=crop",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "thumb\tw=200&h=200&fit=crop");
    let (ok, _, err) = run(&["presets", "set", "--account", &acc, "raw", "w=1"]);
    assert!(!ok && err.contains("reserved"), "{err}");
    let (ok, _, err) = run(&["presets", "set", "--account", &acc, "t2", "w=0"]);
    assert!(!ok && err.contains("`w`"), "{err}");
    let (_, out, _) = run(&["presets", "list", "--account", &acc]);
    assert_eq!(out.trim(), "thumb\tw=200&h=200&fit=crop");
    let (ok, _, _) = run(&["presets", "delete", "--account", &acc, "thumb"]);
    assert!(ok);
    let (ok, _, err) = run(&["presets", "delete", "--account", &acc, "thumb"]);
    assert!(!ok && err.contains("no transformation preset"), "{err}");
    let (_, out, _) = run(&["presets", "list", "--account", &acc]);
    assert!(out.trim().is_empty());
}
