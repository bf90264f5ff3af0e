//! SPEC §5.2 and §5: form_data uploads, malformed upload headers, the
//! account's limits on every route, and sandbox expiry.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use serde_json::Value;
use std::time::Duration;

async fn form_data_uploads_several_files(b: Backend) {
    let app = TestApp::spawn(b).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "first",
            reqwest::multipart::Part::bytes(b"<svg/>".to_vec())
                .file_name("a.svg")
                .mime_str("image/svg+xml")
                .unwrap(),
        )
        .text("note", "not a file")
        .part(
            "second",
            reqwest::multipart::Part::bytes(b"second".to_vec()).file_name("b.txt"),
        );
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .query(&[("folderPath", "/forms")])
        .bearer_auth(&app.public)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(json["errors"], serde_json::json!([]));
    assert_eq!(files[0]["formDataFieldName"], "first");
    assert_eq!(files[1]["formDataFieldName"], "second");
    let first = files[0]["filePath"].as_str().unwrap();
    assert!(
        first.starts_with("/forms/") && first.ends_with(".svg"),
        "{first}"
    );
    let resp = app.client.get(app.raw(first)).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"<svg/>");

    // Not multipart → 400 with a suggestion; multipart without files → 400.
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .bearer_auth(&app.public)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.unwrap();
    assert!(json["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("multipart/form-data"));
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .bearer_auth(&app.public)
        .multipart(reqwest::multipart::Form::new().text("a", "b"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // One part conflicts, one lands: 200 with both lists.
    let form = reqwest::multipart::Form::new()
        .part(
            "x",
            reqwest::multipart::Part::bytes(b"1".to_vec()).file_name("x.txt"),
        )
        .part(
            "y",
            reqwest::multipart::Part::bytes(b"2".to_vec()).file_name("x.txt"),
        );
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .query(&[("filePath", "/forms/same.txt")])
        .bearer_auth(&app.public)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["files"].as_array().unwrap().len(), 1);
    assert_eq!(json["errors"][0]["formDataFieldName"], "y");
    assert_eq!(json["errors"][0]["error"]["code"], "file_already_exists");
}
both!(form_data_uploads_several_files);

async fn bad_upload_headers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/m.txt")])
        .bearer_auth(&app.secret)
        .header("x-upload-metadata", "[1,2]")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.unwrap();
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-Upload-Metadata"));
    assert!(app.blob_keys().await.is_empty());
}
both!(bad_upload_headers);

async fn account_limits_apply_to_every_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert!(app
        .state
        .meta
        .set_account_limits(
            &app.account,
            &stowage::meta::AccountLimits {
                max_file_size: Some(100),
                allowed_mime: Some("image/*".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap());
    let send = |ct: &'static str, size: usize| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.api("/uploads/binary"))
                .query(&[("filePath", "/lim/x")])
                .bearer_auth(&app.secret)
                .header("content-type", ct)
                .body(vec![1u8; size])
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }
    };
    let (s, body) = send("text/plain", 10).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (415, Some("mime_type_not_allowed"))
    );
    let (s, body) = send("image/png", 200).await;
    assert_eq!(
        (s, body["error"]["details"]["maxFileSize"].as_u64()),
        (413, Some(100))
    );
    assert_eq!(send("image/png", 100).await.0, 200);
    // The multipart protocol checks at begin.
    let begin = |body: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.api("/uploads"))
                .bearer_auth(&app.secret)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        begin(serde_json::json!({"size": 200, "mime": "image/png"})).await,
        413
    );
    assert_eq!(
        begin(serde_json::json!({"size": 10, "mime": "text/plain"})).await,
        415
    );
    assert_eq!(
        begin(serde_json::json!({"size": 10, "mime": "image/jpeg"})).await,
        200
    );
    // Forms too.
    let form = reqwest::multipart::Form::new().part(
        "f",
        reqwest::multipart::Part::bytes(b"x".to_vec())
            .file_name("a.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .bearer_auth(&app.secret)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(app.blob_keys().await.len(), 1, "only the accepted upload");
}
both!(account_limits_apply_to_every_route);

async fn sandbox_files_expire(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        Options {
            sandbox_ttl: 1,
            ..Options::default()
        },
    )
    .await;
    let sandbox = stowage::domain::keys::create_account(app.state.meta.as_ref(), true)
        .await
        .unwrap();
    let key = app
        .key_for(&sandbox.id, stowage::auth::keys::KeyType::Secret, &[])
        .await;
    let url = format!(
        "{}/v2/accounts/{}/uploads/binary?filePath=/s.txt",
        app.url, sandbox.id
    );
    let resp = app
        .client
        .post(&url)
        .bearer_auth(&key)
        .body("sandboxed")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    app.put("/live.txt", b"live").await;
    let listed: Value = app
        .client
        .get(format!("{}/v2/accounts/{}/api_keys", app.url, sandbox.id))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["sandbox"], true);
    assert_eq!(
        stowage::domain::sweeper::sweep_sandboxes(&app.state)
            .await
            .unwrap(),
        0,
        "too young"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        stowage::domain::sweeper::sweep_sandboxes(&app.state)
            .await
            .unwrap(),
        1
    );
    let resp = app
        .client
        .get(format!("{}/{}/raw/s.txt", app.url, sandbox.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        app.state.blobs.list(&sandbox.id).await.unwrap().is_empty(),
        "sandbox bytes removed"
    );
    assert_eq!(
        app.get_bytes("/live.txt").await.1,
        b"live",
        "live accounts keep their files"
    );
}
both!(sandbox_files_expire);
