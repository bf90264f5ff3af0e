//! Multipart sessions stored before sessions were bound to the principal that
//! began them (a spec without `owner`) cannot be continued by anyone: 404 as
//! for an unknown id, until they expire.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::{json, Value};
use stowage::auth::keys::KeyType;

async fn call(app: &TestApp, key: &str, method: reqwest::Method, rest: &str) -> (u16, Value) {
    let mut req = app
        .client
        .request(method.clone(), app.api(rest))
        .bearer_auth(key);
    if method == reqwest::Method::PUT {
        req = req.json(&json!({"etag": "\"x\""}));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn sessions_without_an_owner_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.key(KeyType::Secret, &[]).await;
    let begun: Value = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": 5, "protocol": "1.1", "path": "/u/a.txt"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bound = begun["uploadId"].as_str().unwrap().to_string();
    // The same session as a version before owner binding stored it.
    let mut old = app
        .state
        .meta
        .get_upload(&app.account, &bound)
        .await
        .unwrap()
        .unwrap();
    let mut spec: Value = serde_json::from_str(&old.spec).unwrap();
    assert!(spec["owner"].is_string(), "{spec}");
    spec.as_object_mut().unwrap().remove("owner");
    old.spec = spec.to_string();
    old.id = uuid::Uuid::new_v4().simple().to_string();
    old.blob_key = None;
    old.multipart_id = None;
    app.state.meta.create_upload(&old).await.unwrap();

    for key in [app.secret.as_str(), other.as_str()] {
        for (method, rest) in [
            (reqwest::Method::GET, format!("/uploads/{}/parts/0", old.id)),
            (reqwest::Method::PUT, format!("/uploads/{}/parts/0", old.id)),
        ] {
            let (status, body) = call(&app, key, method, &rest).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some("not_found")),
                "{rest}"
            );
        }
    }
    // A bound session: its owner continues, anyone else is told 404.
    let part = format!("/uploads/{bound}/parts/0");
    assert_eq!(
        call(&app, &app.secret, reqwest::Method::GET, &part).await.0,
        200
    );
    assert_eq!(call(&app, &other, reqwest::Method::GET, &part).await.0, 404);
}
both!(sessions_without_an_owner_are_refused);
