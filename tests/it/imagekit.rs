//! SPEC §5.5: ImageKit-style uploads, server-side (Basic) and client-side
//! (V2 HS256 JWT binding the fields, V1 HMAC-SHA1 signature), single use.

use crate::both;
use crate::common::{Backend, TestApp};
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

async fn signing_key(app: &TestApp) -> (String, String) {
    let resp = app
        .client
        .post(app.api("/signing_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"name": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    (
        v["kid"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

async fn post(
    app: &TestApp,
    version: u8,
    fields: &[(&str, &str)],
    basic: Option<&str>,
) -> (u16, Value, bool) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"imagekit bytes".to_vec())
            .file_name("orig.png")
            .mime_str("image/png")
            .unwrap(),
    );
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut req = app
        .client
        .post(format!("{}/api/v{version}/files/upload", app.url))
        .multipart(form);
    if let Some(key) = basic {
        req = req.basic_auth(key, Some("do_not_set"));
    }
    let resp = req.send().await.unwrap();
    let has_id = resp.headers().contains_key("x-request-id");
    (resp.status().as_u16(), resp.json().await.unwrap(), has_id)
}

fn jwt(kid: &str, secret: &str, claims: Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn server_side_uploads_with_basic(b: Backend) {
    let app = TestApp::spawn(b).await;
    for version in [1, 2] {
        let (s, v, has_id) = post(
            &app,
            version,
            &[("fileName", "cat.png"), ("folder", "/ik"), ("tags", "a,b")],
            Some(&app.secret),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert!(has_id);
        let path = v["filePath"].as_str().unwrap();
        assert!(
            path.starts_with("/ik/cat_") && path.ends_with(".png"),
            "{path}"
        );
        assert_eq!(v["name"], path.rsplit('/').next().unwrap());
        assert_eq!(v["url"], app.raw(path));
        assert_eq!(v["size"], 14);
        assert_eq!(v["fileType"], "image");
        assert_eq!(v["mime"], "image/png");
        assert_eq!(v["tags"], json!(["a", "b"]));
        assert_eq!(v["versionInfo"]["id"], v["fileId"]);
        assert!(v["createdAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(app.get_bytes(path).await.1, b"imagekit bytes");
    }
    // Exact names when useUniqueFileName=false; overwriteFile=false → conflict.
    let fields = [("fileName", "fixed.png"), ("useUniqueFileName", "false")];
    assert_eq!(post(&app, 1, &fields, Some(&app.secret)).await.0, 200);
    let (s, v, _) = post(
        &app,
        1,
        &[
            ("fileName", "fixed.png"),
            ("useUniqueFileName", "false"),
            ("overwriteFile", "false"),
        ],
        Some(&app.secret),
    )
    .await;
    assert_eq!(s, 409);
    assert!(
        v["message"].is_string() && v["help"].is_string() && v.get("error").is_none(),
        "{v}"
    );
    // No credentials, no token: 401 in ImageKit's shape. Bad key: 401 too.
    let (s, v, _) = post(&app, 2, &[("fileName", "x.png")], None).await;
    assert_eq!(s, 401);
    assert!(v["message"].is_string() && v["help"].is_string(), "{v}");
    assert_eq!(
        post(&app, 1, &[("fileName", "x.png")], Some("secret_nope"))
            .await
            .0,
        401
    );
    let (s, v, _) = post(&app, 1, &[("folder", "/x")], Some(&app.secret)).await;
    assert_eq!(s, 400);
    assert!(v["message"].as_str().unwrap().contains("fileName"));
    // Only the staged-and-committed objects remain: the three files hold the
    // same bytes, stored once (per-account deduplication).
    assert_eq!(app.blob_keys().await.len(), 1);
    // The staging prefix is shared by every server on a store (the S3 suite
    // runs many at once), so wait for it to drain rather than expect it empty.
    crate::common::TestApp::eventually(
        std::time::Duration::from_secs(20),
        "staging drained",
        || async { app.state.blobs.list("imagekit").await.unwrap().is_empty() },
    )
    .await;
}
both!(server_side_uploads_with_basic);

async fn v2_tokens_bind_every_field_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (kid, secret) = signing_key(&app).await;
    let row = app.state.meta.get_signing_key(&kid).await.unwrap().unwrap();
    assert!(
        !row.secret_enc.contains(&secret),
        "secret stored in plaintext"
    );
    let fields = [
        ("fileName", "v2.png"),
        ("folder", "/v2"),
        ("useUniqueFileName", "false"),
    ];
    let claims = |extra: Value| {
        let mut c = json!({"fileName": "v2.png", "folder": "/v2", "useUniqueFileName": "false", "iat": now(), "exp": now() + 600});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let token = jwt(&kid, &secret, claims(json!({})));
    fn with_token<'a>(fields: &[(&'a str, &'a str)], t: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut f = fields.to_vec();
        f.push(("token", t));
        f
    }

    let (s, v, _) = post(&app, 2, &with_token(&fields, &token), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["filePath"], "/v2/v2.png");
    let (s, v, _) = post(&app, 2, &with_token(&fields, &token), None).await;
    assert_eq!(s, 401, "replay: {v}");

    let cases: Vec<(&str, String, u16)> = vec![
        (
            "tampered field",
            jwt(&kid, &secret, claims(json!({"fileName": "other.png"}))),
            400,
        ),
        (
            "extra claim",
            jwt(&kid, &secret, claims(json!({"tags": "x"}))),
            400,
        ),
        (
            "missing claim",
            {
                let mut c = claims(json!({}));
                c.as_object_mut().unwrap().remove("folder");
                jwt(&kid, &secret, c)
            },
            400,
        ),
        (
            "exp - iat = 3601",
            jwt(
                &kid,
                &secret,
                claims(json!({"iat": now() - 1, "exp": now() + 3600})),
            ),
            401,
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(json!({"alg": "none", "kid": kid}).to_string()),
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(claims(json!({})).to_string())
            ),
            401,
        ),
        ("unknown kid", jwt("nope", &secret, claims(json!({}))), 401),
        (
            "wrong secret",
            jwt(&kid, "sk_wrong", claims(json!({}))),
            401,
        ),
        (
            "expired",
            jwt(
                &kid,
                &secret,
                claims(json!({"iat": now() - 700, "exp": now() - 100})),
            ),
            401,
        ),
    ];
    for (what, token, want) in cases {
        let (s, v, _) = post(&app, 2, &with_token(&fields, &token), None).await;
        assert_eq!(s, want, "{what}: {v}");
        assert!(
            v["message"].is_string() && v["help"].is_string(),
            "{what}: {v}"
        );
    }
    // Another account's kid: its secret does not sign for this one.
    let other = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
        .await
        .unwrap();
    let (okid, _) = stowage::domain::keys::create_signing_key(
        app.state.meta.as_ref(),
        app.state.master_key(),
        &other.id,
        "",
    )
    .await
    .unwrap();
    let foreign = jwt(&okid.kid, &secret, claims(json!({})));
    let (s, _, _) = post(&app, 2, &with_token(&fields, &foreign), None).await;
    assert_eq!(s, 401);
    // A token spent on a failed upload stays spent.
    let t = jwt(&kid, &secret, claims(json!({"iat": now() - 2})));
    let mut f = with_token(&fields, &t);
    f[0] = ("fileName", "mismatch.png");
    assert_eq!(post(&app, 2, &f, None).await.0, 400);
    f[0] = ("fileName", "v2.png");
    assert_eq!(post(&app, 2, &f, None).await.0, 401);
}
both!(v2_tokens_bind_every_field_once);

async fn v1_signatures_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (kid, secret) = signing_key(&app).await;
    let sign = |token: &str, expire: i64| {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{token}{expire}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let expire = now() + 1800;
    let token = uuid::Uuid::new_v4().to_string();
    let sig = sign(&token, expire);
    let exp_s = expire.to_string();
    let fields = [
        ("fileName", "v1.png"),
        ("publicKey", kid.as_str()),
        ("token", token.as_str()),
        ("expire", exp_s.as_str()),
        ("signature", sig.as_str()),
    ];
    let (s, v, _) = post(&app, 1, &fields, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(post(&app, 1, &fields, None).await.0, 401, "replay");
    let t2 = uuid::Uuid::new_v4().to_string();
    let bad = [
        ("fileName", "v1.png"),
        ("publicKey", kid.as_str()),
        ("token", t2.as_str()),
        ("expire", exp_s.as_str()),
        ("signature", sig.as_str()),
    ];
    assert_eq!(
        post(&app, 1, &bad, None).await.0,
        401,
        "signature of another token"
    );
    // V1 signs only token + expire, so it may never overwrite an existing file.
    assert_eq!(
        post(
            &app,
            1,
            &[("fileName", "taken.png"), ("useUniqueFileName", "false")],
            Some(&app.secret)
        )
        .await
        .0,
        200
    );
    let t3 = uuid::Uuid::new_v4().to_string();
    let sig3 = sign(&t3, expire);
    let over = [
        ("fileName", "taken.png"),
        ("useUniqueFileName", "false"),
        ("publicKey", kid.as_str()),
        ("token", t3.as_str()),
        ("expire", exp_s.as_str()),
        ("signature", sig3.as_str()),
    ];
    assert_eq!(post(&app, 1, &over, None).await.0, 409);
    let far = (now() + 7200).to_string();
    let sig_far = sign(&t2, now() + 7200);
    let too_far = [
        ("fileName", "v1.png"),
        ("publicKey", kid.as_str()),
        ("token", t2.as_str()),
        ("expire", far.as_str()),
        ("signature", sig_far.as_str()),
    ];
    assert_eq!(
        post(&app, 1, &too_far, None).await.0,
        401,
        "expire over an hour ahead"
    );
}
both!(v1_signatures_once);
