//! SPEC §2/§3 for JWTs: RS256/ES256 with registered keys, claims, refusals,
//! Authorization-Token merging, and propagation to a second node.

use crate::both;
use crate::common::{Backend, TestApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::OnceLock;
use stowage::auth::keys::KeyType;

/// A real key pair made by openssl: (private PKCS#8 PEM, public SPKI PEM).
pub struct Pair {
    pub private: String,
    pub public: String,
}

fn openssl_pair(args: &[&str]) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-out"])
        .arg(&key)
        .args(args)
        .output()
        .expect("openssl is needed to make test keys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    Pair {
        private: std::fs::read_to_string(&key).unwrap(),
        public: String::from_utf8(public.stdout).unwrap(),
    }
}

pub fn rsa() -> &'static Pair {
    static P: OnceLock<Pair> = OnceLock::new();
    P.get_or_init(|| openssl_pair(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
}
fn rsa_other() -> &'static Pair {
    static P: OnceLock<Pair> = OnceLock::new();
    P.get_or_init(|| openssl_pair(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
}
fn ec() -> &'static Pair {
    static P: OnceLock<Pair> = OnceLock::new();
    P.get_or_init(|| openssl_pair(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]))
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn sign(alg: Algorithm, pair: &Pair, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pair.private.as_bytes()).unwrap(),
        _ => EncodingKey::from_ec_pem(pair.private.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn b64url(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Claims granting create + raw read on the children of /u/1.
pub fn claims(app: &TestApp) -> Value {
    json!({
        "sub": "user-1", "iat": now(), "exp": now() + 600, "accountId": app.account,
        "access": {"pathPermissions": [{
            "match": {"path": "/u/1", "scope": "Children"},
            "permissions": {"read": {"file": {"downloadFile": ["raw"]}},
                            "write": {"file": {"createFile": true}}}
        }]}
    })
}

pub async fn register(app: &TestApp, pem: &str) -> Value {
    let resp = app
        .client
        .post(app.api("/jwt_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({ "pem": pem, "name": "test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

async fn upload(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", path)])
        .body("jwt");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn jwt_bearer_grants_and_refusals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let rs = register(&app, &rsa().public).await;
    assert_eq!(rs["alg"], "RS256");
    let es = register(&app, &ec().public).await;
    assert_eq!(es["alg"], "ES256");
    let kid = rs["kid"].as_str().unwrap().to_string();

    let good = sign(Algorithm::RS256, rsa(), Some(&kid), &claims(&app));
    let auth = format!("Bearer {good}");
    assert_eq!(
        upload(&app, "/u/1/a.txt", &[("authorization", &auth)])
            .await
            .0,
        200
    );
    let (s, body) = upload(&app, "/u/2/a.txt", &[("authorization", &auth)]).await;
    assert_eq!((s, code(&body)), (403, "forbidden"));
    let (s, body) = upload(&app, "/u/1/a.txt", &[("authorization", &auth)]).await;
    assert_eq!(
        (s, code(&body)),
        (409, "file_already_exists"),
        "create without overwrite"
    );
    let resp = app
        .client
        .get(app.raw("/u/1/a.txt"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");

    // ES256 without kid: each registered key of that alg is tried.
    let es_token = sign(Algorithm::ES256, ec(), None, &claims(&app));
    let auth_es = format!("Bearer {es_token}");
    assert_eq!(
        upload(&app, "/u/1/b.txt", &[("authorization", &auth_es)])
            .await
            .0,
        200
    );

    // Every refusal is a 401 with a reason.
    let mut c = claims(&app);
    let refusals: Vec<(&str, String, &str)> = vec![
        (
            "no accountId",
            {
                c.as_object_mut().unwrap().remove("accountId");
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "invalid_token",
        ),
        (
            "expired",
            {
                let mut c = claims(&app);
                c["iat"] = json!(now() - 600);
                c["exp"] = json!(now() - 60);
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "token_expired",
        ),
        (
            "iat in the future",
            {
                let mut c = claims(&app);
                c["iat"] = json!(now() + 120);
                c["exp"] = json!(now() + 600);
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "invalid_token",
        ),
        (
            "lifetime over 7 days",
            {
                let mut c = claims(&app);
                c["exp"] = json!(now() + 8 * 86_400);
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "invalid_token",
        ),
        (
            "no exp",
            {
                let mut c = claims(&app);
                c.as_object_mut().unwrap().remove("exp");
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "invalid_token",
        ),
        (
            "no sub",
            {
                let mut c = claims(&app);
                c.as_object_mut().unwrap().remove("sub");
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "invalid_token",
        ),
        (
            "over 8 KiB",
            {
                let mut c = claims(&app);
                c["pad"] = json!("x".repeat(9000));
                sign(Algorithm::RS256, rsa(), Some(&kid), &c)
            },
            "invalid_token",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64url(&json!({"alg": "none", "typ": "JWT"})),
                b64url(&claims(&app))
            ),
            "invalid_token",
        ),
        (
            "HS256 keyed with the public PEM (alg confusion)",
            {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some(kid.clone());
                jsonwebtoken::encode(
                    &h,
                    &claims(&app),
                    &EncodingKey::from_secret(rsa().public.as_bytes()),
                )
                .unwrap()
            },
            "invalid_token",
        ),
        (
            "unknown kid",
            sign(Algorithm::RS256, rsa(), Some("nope"), &claims(&app)),
            "invalid_token",
        ),
        (
            "unregistered signer",
            sign(Algorithm::RS256, rsa_other(), None, &claims(&app)),
            "invalid_token",
        ),
        (
            "RS256 header on the EC kid",
            sign(Algorithm::RS256, rsa(), es["kid"].as_str(), &claims(&app)),
            "invalid_token",
        ),
        (
            "tampered payload",
            {
                let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
                let mut c = claims(&app);
                c["access"]["pathPermissions"][0]["match"]["path"] = json!("/");
                parts[1] = b64url(&c);
                parts.join(".")
            },
            "invalid_token",
        ),
        ("garbage", "eyJnot.a.jwt".into(), "invalid_token"),
    ];
    for (what, token, want) in refusals {
        let auth = format!("Bearer {token}");
        let (s, body) = upload(&app, "/u/1/z.txt", &[("authorization", &auth)]).await;
        assert_eq!((s, code(&body)), (401, want), "{what}: {body}");
        assert!(
            !body.to_string().contains(&token),
            "{what}: error echoes the token"
        );
    }
    // Within the 30 s skew is fine.
    let mut c = claims(&app);
    c["iat"] = json!(now() + 20);
    let t = format!("Bearer {}", sign(Algorithm::RS256, rsa(), Some(&kid), &c));
    assert_eq!(
        upload(&app, "/u/1/skew.txt", &[("authorization", &t)])
            .await
            .0,
        200
    );
    // The expiry message says when.
    let mut c = claims(&app);
    c["iat"] = json!(1_700_000_000);
    c["exp"] = json!(1_700_000_600);
    let t = format!("Bearer {}", sign(Algorithm::RS256, rsa(), Some(&kid), &c));
    let (_, body) = upload(&app, "/u/1/z.txt", &[("authorization", &t)]).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2023-11-14T22:23:20"),
        "{body}"
    );
}
both!(jwt_bearer_grants_and_refusals);

async fn jwt_account_and_origin_checks(b: Backend) {
    let app = TestApp::spawn(b).await;
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    // A JWT of another account (verified with that account's own key) on this
    // account's URL → 403.
    let other = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
        .await
        .unwrap();
    let okid =
        stowage::domain::keys::add_jwt_key(app.state.meta.as_ref(), &other.id, &ec().public, "")
            .await
            .unwrap()
            .kid;
    let mut c = claims(&app);
    c["accountId"] = json!(other.id);
    let t = format!("Bearer {}", sign(Algorithm::ES256, ec(), Some(&okid), &c));
    let (s, body) = upload(&app, "/u/1/x.txt", &[("authorization", &t)]).await;
    assert_eq!((s, code(&body)), (403, "account_mismatch"));
    // Claiming this account but signed with the other account's key → 401.
    let t = format!(
        "Bearer {}",
        sign(Algorithm::ES256, ec(), None, &claims(&app))
    );
    assert_eq!(
        upload(&app, "/u/1/x.txt", &[("authorization", &t)]).await.0,
        401
    );

    let mut c = claims(&app);
    c["allowedOrigins"] = json!(["https://app.example"]);
    let t = format!("Bearer {}", sign(Algorithm::RS256, rsa(), Some(&kid), &c));
    let ok = upload(
        &app,
        "/u/1/o1.txt",
        &[("authorization", &t), ("origin", "https://app.example")],
    )
    .await;
    assert_eq!(ok.0, 200);
    let ok = upload(
        &app,
        "/u/1/o2.txt",
        &[
            ("authorization", &t),
            ("referer", "https://app.example/page?q=1"),
        ],
    )
    .await;
    assert_eq!(ok.0, 200, "Referer stands in for Origin");
    let (s, body) = upload(
        &app,
        "/u/1/o3.txt",
        &[("authorization", &t), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!((s, code(&body)), (401, "origin_not_allowed"));
    let (s, _) = upload(&app, "/u/1/o4.txt", &[("authorization", &t)]).await;
    assert_eq!(s, 401, "no origin at all");
}
both!(jwt_account_and_origin_checks);

async fn authorization_token_merges_with_the_key(b: Backend) {
    let app = TestApp::spawn(b).await;
    let kid = register(&app, &rsa().public).await["kid"]
        .as_str()
        .unwrap()
        .to_string();
    app.put("/p/x.txt", b"x").await;
    // The JWT adds delete on /p/*; the public key alone may not delete.
    let mut c = claims(&app);
    c["access"]["pathPermissions"] = json!([{
        "match": {"path": "/p", "scope": "Children"},
        "permissions": {"write": {"file": {"deleteFile": true}}}
    }]);
    let token = sign(Algorithm::RS256, rsa(), Some(&kid), &c);
    let delete = |headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let mut req = app
                .client
                .delete(app.api("/files"))
                .query(&[("filePath", "/p/x.txt")]);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    let key = format!("Bearer {}", app.public);
    assert_eq!(delete(vec![("authorization", key.clone())]).await, 403);
    assert_eq!(
        delete(vec![
            ("authorization", key.clone()),
            ("authorization-token", token.clone())
        ])
        .await,
        204
    );
    // The key's own grants still hold next to the JWT's.
    let (s, _) = upload(
        &app,
        "/elsewhere.txt",
        &[("authorization", &key), ("authorization-token", &token)],
    )
    .await;
    assert_eq!(s, 200);
    // Where both name the same glob, the JWT's rule replaces the key's.
    let scoped = app.key(KeyType::Public, &["/r/*:read,create,delete"]).await;
    app.put("/r/y.txt", b"y").await;
    let mut c = claims(&app);
    c["access"]["pathPermissions"] = json!([{
        "match": {"path": "/r", "scope": "Children"},
        "permissions": {"read": true}
    }]);
    let narrowing = sign(Algorithm::RS256, rsa(), Some(&kid), &c);
    let scoped_auth = format!("Bearer {scoped}");
    assert_eq!(
        delete_path(
            &app,
            "/r/y.txt",
            &[
                ("authorization", &scoped_auth),
                ("authorization-token", &narrowing)
            ]
        )
        .await,
        403
    );
    assert_eq!(
        delete_path(&app, "/r/y.txt", &[("authorization", &scoped_auth)]).await,
        204
    );
    // A bad Authorization-Token is 401 even though the key is good.
    let (s, body) = upload(
        &app,
        "/q.txt",
        &[("authorization", &key), ("authorization-token", "eyJx.y.z")],
    )
    .await;
    assert_eq!((s, code(&body)), (401, "invalid_token"));
    // Authorization-Token alone is explained.
    let (s, body) = upload(&app, "/q.txt", &[("authorization-token", &token)]).await;
    assert_eq!(s, 401);
    assert!(body["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));
}
both!(authorization_token_merges_with_the_key);

async fn delete_path(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = app
        .client
        .delete(app.api("/files"))
        .query(&[("filePath", path)]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}
