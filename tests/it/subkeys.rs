//! Subkeys of the master key (HKDF-SHA256, docs/decisions.md): URLs and
//! secrets made before them with the master key itself stay usable through
//! the migration — URLs until they expire (bounded by the longest URL lifetime
//! after the upgrade), signing-key secrets re-sealed at start.

use crate::both;
use crate::common::{Backend, TestApp};
use aes_gcm::aead::{Aead, KeyInit};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Duration;
use stowage::auth::secrets;
use stowage::meta::SigningKeyRow;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A signed-URL signature as versions before subkeys made it: HMAC-SHA256
/// with the master key itself.
fn legacy_sig(master: &[u8; 32], scope: &str, subject: &str, exp: i64) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(master).unwrap();
    m.update(format!("{scope}\n{subject}\n{exp}").as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// `url` with its `exp` and `sig` replaced.
fn with_sig(url: &str, exp: i64, sig: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let rest: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "exp" && k != "sig")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(rest)
        .append_pair("exp", &exp.to_string())
        .append_pair("sig", sig);
    u.to_string()
}

fn sig_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    let sig = u.query_pairs().find(|(k, _)| k == "sig").unwrap().1;
    sig.into_owned()
}

async fn status_and_code(resp: reqwest::Response) -> (u16, Option<String>) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().map(str::to_string))
}

async fn links_made_before_subkeys_work_until_the_cutoff(b: Backend) {
    let app = TestApp::spawn(b).await;
    let master = *app.state.master_key().master();
    app.put("/s/a.txt", b"secret a").await;
    let row = app
        .state
        .meta
        .get_file(&app.account, "/s/a.txt")
        .await
        .unwrap()
        .unwrap();
    let resp = app
        .client
        .post(app.api("/files/signed_url"))
        .bearer_auth(&app.secret)
        .json(&json!({ "filePath": "/s/a.txt", "expires_in": 600 }))
        .send()
        .await
        .unwrap();
    let url = resp.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let subject = stowage::auth::download_link_subject(&app.account, "/s/a.txt", &row.version_id);
    let scope = stowage::auth::DOWNLOAD_SCOPE;
    let exp = now() + 600;
    // New links are signed with the subkey, not the master key.
    let made: i64 = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "exp")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert_ne!(sig_of(&url), legacy_sig(&master, scope, &subject, made));
    // A link made before the upgrade still opens the file.
    let old = with_sig(&url, exp, &legacy_sig(&master, scope, &subject, exp));
    let resp = app.client.get(&old).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"secret a");
    // One expiring after the cutoff (first start of subkeys + 7 days here)
    // cannot have been made before the upgrade: refused.
    let late = now() + 7 * 86_400 + 120;
    let forged = with_sig(&url, late, &legacy_sig(&master, scope, &subject, late));
    let got = status_and_code(app.client.get(&forged).send().await.unwrap()).await;
    assert_eq!(got, (401, Some("invalid_signature".into())));

    // Part upload URLs likewise.
    let begun: Value = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": 5, "protocol": "1.1", "path": "/s/p.txt"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let part_url = begun["uploadParts"]["first"]["uploadUrl"].as_str().unwrap();
    let part = url::Url::parse(part_url).unwrap();
    let exp: i64 = part
        .query_pairs()
        .find(|(k, _)| k == "exp")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let legacy = legacy_sig(&master, "upload-part", part.path(), exp);
    assert_ne!(sig_of(part_url), legacy);
    let resp = app
        .client
        .put(with_sig(part_url, exp, &legacy))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}
both!(links_made_before_subkeys_work_until_the_cutoff);

/// AES-256-GCM under the master key itself, as versions before subkeys sealed.
fn legacy_seal(master: &[u8; 32], plain: &str) -> String {
    let cipher = aes_gcm::Aes256Gcm::new(master.into());
    let nonce = [3u8; 12];
    let ct = cipher
        .encrypt(aes_gcm::Nonce::from_slice(&nonce), plain.as_bytes())
        .unwrap();
    hex::encode([nonce.to_vec(), ct].concat())
}

/// ImageKit V1 fields signed with `secret`.
fn v1_fields(kid: &str, secret: &str) -> BTreeMap<String, String> {
    let token = uuid::Uuid::new_v4().to_string();
    let expire = now() + 600;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{token}{expire}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    [
        ("publicKey", kid.to_string()),
        ("token", token),
        ("expire", expire.to_string()),
        ("signature", signature),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn secrets_sealed_before_subkeys_are_resealed_at_start(b: Backend) {
    let app = TestApp::spawn(b).await;
    let master = *app.state.master_key().master();
    let secret = "sk_made_before_subkeys";
    let row = SigningKeyRow {
        kid: "legacykid".into(),
        account_id: app.account.clone(),
        name: "old".into(),
        secret_enc: legacy_seal(&master, secret),
        created_at: 0,
    };
    app.state.meta.insert_signing_key(&row).await.unwrap();
    // Readable before the re-seal.
    let got = app
        .state
        .auth
        .verify_imagekit_v1(&v1_fields("legacykid", secret))
        .await;
    assert_eq!(got.unwrap(), app.account);
    assert!(!secrets::is_current(
        app.state.master_key(),
        &row.secret_enc
    ));

    // A node starting re-seals it under the subkey; both nodes still read it.
    let peer = app.spawn_peer().await;
    // The peer re-seals as its server task starts, which spawn_peer does
    // not wait for.
    TestApp::eventually(Duration::from_secs(10), "re-sealed at start", || async {
        let now = app.state.meta.get_signing_key("legacykid").await.unwrap();
        now.is_some_and(|r| r.secret_enc != row.secret_enc)
    })
    .await;
    let now_row = app
        .state
        .meta
        .get_signing_key("legacykid")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(now_row.secret_enc, row.secret_enc);
    assert!(secrets::is_current(
        app.state.master_key(),
        &now_row.secret_enc
    ));
    assert_eq!(
        secrets::open(app.state.master_key(), &now_row.secret_enc).unwrap(),
        secret
    );
    for node in [&app, &peer] {
        let got = node
            .state
            .auth
            .verify_imagekit_v1(&v1_fields("legacykid", secret))
            .await;
        assert_eq!(got.unwrap(), app.account);
    }
    // Keys made now are sealed under the subkey from the start.
    let made: Value = app
        .client
        .post(app.api("/signing_keys"))
        .bearer_auth(&app.secret)
        .json(&json!({"name": "new"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = made["kid"].as_str().unwrap();
    let new_row = app.state.meta.get_signing_key(kid).await.unwrap().unwrap();
    assert!(secrets::is_current(
        app.state.master_key(),
        &new_row.secret_enc
    ));
    let plain = secrets::open(app.state.master_key(), &new_row.secret_enc).unwrap();
    assert_eq!(made["secret"].as_str(), Some(plain.as_str()));
    assert!(
        aes_gcm::Aes256Gcm::new((&master).into())
            .decrypt(
                aes_gcm::Nonce::from_slice(&hex::decode(&new_row.secret_enc).unwrap()[..12]),
                &hex::decode(&new_row.secret_enc).unwrap()[12..],
            )
            .is_err(),
        "not sealed under the master key itself"
    );
}
both!(secrets_sealed_before_subkeys_are_resealed_at_start);
