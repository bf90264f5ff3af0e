//! SPEC §7, stowage's own: moving a file (one transaction, history and blob
//! kept, usage unchanged) and restoring an older version.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::{json, Value};
use stowage::auth::keys::KeyType;

async fn post(app: &TestApp, key: &str, route: &str, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .post(app.api(route))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn get_json(app: &TestApp, route: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let resp = app
        .client
        .get(app.api(route))
        .query(query)
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn versions(app: &TestApp, path: &str) -> Vec<String> {
    let (s, v) = get_json(app, "/files/versions", &[("filePath", path)]).await;
    assert_eq!(s, 200, "{v}");
    v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["versionId"].as_str().unwrap().to_string())
        .collect()
}

async fn moves_a_file_with_its_history(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/a/one.txt", b"first").await;
    app.put("/a/one.txt", b"second").await;
    let before = versions(&app, "/a/one.txt").await;
    let (_, usage_before) = get_json(&app, "/usage", &[]).await;
    let blobs_before = app.blob_keys().await;
    // Warm the served-file cache at the source.
    assert_eq!(app.get_bytes("/a/one.txt").await.0, 200);
    let body = json!({"source": "/a/one.txt", "destination": "/b/c/two.txt"});
    let (s, v) = post(&app, &app.secret, "/files/move", body).await;
    assert_eq!((s, v), (200, json!({"status": "Moved"})));
    assert_eq!(app.get_bytes("/a/one.txt").await.0, 404);
    assert_eq!(
        app.get_bytes("/b/c/two.txt").await,
        (reqwest::StatusCode::OK, b"second".to_vec())
    );
    assert_eq!(
        versions(&app, "/b/c/two.txt").await,
        before,
        "history moves along"
    );
    let (_, usage_after) = get_json(&app, "/usage", &[]).await;
    assert_eq!(usage_before, usage_after, "a move changes no usage");
    assert_eq!(
        app.blob_keys().await,
        blobs_before,
        "no byte copied or lost"
    );
    // The source's empty folder went, the destination's folders exist.
    let (s, _) = get_json(&app, "/folders", &[("folderPath", "/b/c")]).await;
    assert_eq!(s, 200);
    let (_, listing) = get_json(&app, "/folders/list", &[("folderPath", "/")]).await;
    let names: Vec<&str> = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["folderPath"].as_str())
        .collect();
    assert!(!names.contains(&"/a"), "{listing}");
    // A missing source: 404.
    let body = json!({"source": "/a/one.txt", "destination": "/x.txt"});
    let (s, v) = post(&app, &app.secret, "/files/move", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("file_not_found"))
    );
}
both!(moves_a_file_with_its_history);

async fn move_needs_its_permissions(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/m/src.txt", b"src").await;
    app.put("/m/taken.txt", b"taken").await;
    let no_delete = app
        .key(KeyType::Secret, &["/m/**:read,create,overwrite"])
        .await;
    let no_overwrite = app
        .key(KeyType::Secret, &["/m/**:read,create,delete"])
        .await;
    let body = json!({"source": "/m/src.txt", "destination": "/m/new.txt"});
    let (s, v) = post(&app, &no_delete, "/files/move", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let body = json!({"source": "/m/src.txt", "destination": "/m/taken.txt"});
    let (s, v) = post(&app, &no_overwrite, "/files/move", body.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("file_already_exists"))
    );
    // Nothing changed: both files still there.
    assert_eq!(app.get_bytes("/m/src.txt").await.1, b"src");
    assert_eq!(app.get_bytes("/m/taken.txt").await.1, b"taken");
    // The secret key may overwrite: the destination is replaced, its bytes freed.
    let (s, _) = post(&app, &app.secret, "/files/move", body).await;
    assert_eq!(s, 200);
    assert_eq!(app.get_bytes("/m/taken.txt").await.1, b"src");
    assert_eq!(app.get_bytes("/m/src.txt").await.0, 404);
    let (_, u) = get_json(&app, "/usage", &[]).await;
    assert_eq!(
        (u["files"].as_i64(), u["bytes"].as_i64()),
        (Some(1), Some(3)),
        "{u}"
    );
    assert_eq!(
        app.blob_keys().await.len(),
        1,
        "the replaced file's blob is deleted"
    );
}
both!(move_needs_its_permissions);

async fn restore_makes_an_old_version_current(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/r.txt", b"old bytes").await;
    app.put("/r.txt", b"new").await;
    let before = versions(&app, "/r.txt").await;
    let old = before[1].clone();
    assert_eq!(app.get_bytes("/r.txt").await.1, b"new", "cache warmed");
    let (_, u0) = get_json(&app, "/usage", &[]).await;
    let body = json!({"filePath": "/r.txt", "versionId": old});
    let (s, details) = post(&app, &app.secret, "/files/restore", body.clone()).await;
    assert_eq!(s, 200, "{details}");
    assert_eq!(details["filePath"], "/r.txt");
    assert_eq!(details["size"], 9);
    let after = versions(&app, "/r.txt").await;
    assert_eq!(after.len(), 3, "a new version on top");
    assert_ne!(after[0], old, "with a new id");
    assert_eq!(after[1..], before[..], "the history kept in order");
    assert_eq!(app.get_bytes("/r.txt").await.1, b"old bytes");
    // Same blob: one more version, no more stored bytes.
    let (_, u1) = get_json(&app, "/usage", &[]).await;
    assert_eq!(
        u1["versions"].as_i64(),
        u0["versions"].as_i64().map(|v| v + 1)
    );
    assert_eq!(u1["storedBytes"], u0["storedBytes"]);
    assert_eq!(app.blob_keys().await.len(), 2);
    // Unknown version: 404; no overwrite permission: 403.
    let missing = json!({"filePath": "/r.txt", "versionId": "nope"});
    let (s, v) = post(&app, &app.secret, "/files/restore", missing).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("file_not_found"))
    );
    let no_overwrite = app.key(KeyType::Secret, &["/**:read,create"]).await;
    let (s, v) = post(&app, &no_overwrite, "/files/restore", body).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
}
both!(restore_makes_an_old_version_current);
