//! SPEC §7: file details, delete, copy, versions.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::{json, Value};
use stowage::auth::keys::KeyType;

async fn delete_removes_file_and_bytes(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/del/a.txt", b"one").await;
    app.put("/del/a.txt", b"two").await;
    assert_eq!(app.blob_keys().await.len(), 2);
    let url = app.api("/files");
    let resp = app
        .client
        .delete(&url)
        .query(&[("filePath", "/del/a.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(app.get_bytes("/del/a.txt").await.0, 404);
    assert!(app.blob_keys().await.is_empty(), "delete left bytes behind");
    let resp = app
        .client
        .delete(&url)
        .query(&[("filePath", "/del/a.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // A public key may not delete: 403 whether or not the file exists.
    app.put("/del/b.txt", b"b").await;
    for path in ["/del/b.txt", "/del/missing.txt"] {
        let resp = app
            .client
            .delete(&url)
            .query(&[("filePath", path)])
            .bearer_auth(&app.public)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
}
both!(delete_removes_file_and_bytes);

async fn copy_makes_an_independent_file(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/src.txt", b"source").await;
    let copy = |dest: &'static str, key: String| {
        let app = &app;
        async move {
            app.client
                .post(app.api("/files/copy"))
                .bearer_auth(key)
                .json(&json!({ "source": "/src.txt", "destination": dest }))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = copy("/dst.txt", app.secret.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "status": "Copied" })
    );
    assert_eq!(app.get_bytes("/dst.txt").await.1, b"source");
    app.put("/src.txt", b"changed").await;
    assert_eq!(app.get_bytes("/dst.txt").await.1, b"source");
    // The destination exists and the public key may not overwrite it.
    let resp = copy("/dst.txt", app.public.clone()).await;
    assert_eq!(resp.status(), 409);
    // Bad JSON gets the SPEC §8 body.
    let resp = app
        .client
        .post(app.api("/files/copy"))
        .bearer_auth(&app.secret)
        .header("content-type", "application/json")
        .body("{\"source\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "invalid_request");
    let resp = copy("/missing-src.txt", app.secret.clone()).await;
    assert_eq!(resp.status(), 200, "copy of an existing file to a new name");
    let resp = app
        .client
        .post(app.api("/files/copy"))
        .bearer_auth(&app.secret)
        .json(&json!({ "source": "/nope.txt", "destination": "/x.txt" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
both!(copy_makes_an_independent_file);

async fn versions_are_kept_and_served(b: Backend) {
    let app = TestApp::spawn(b).await;
    for i in 0..103 {
        app.put("/v.txt", format!("v{i}").as_bytes()).await;
    }
    let versions: Value = app
        .client
        .get(app.api("/files/versions"))
        .query(&[("filePath", "/v.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.len(), 101, "current + 100 previous");
    assert_eq!(list[0]["size"], 4); // "v102"
    assert_eq!(
        app.blob_keys().await.len(),
        101,
        "pruned versions' bytes removed"
    );
    let oldest = list[100]["versionId"].as_str().unwrap();
    let resp = app
        .client
        .get(app.raw("/v.txt"))
        .query(&[("versionId", oldest)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"v2");
    let resp = app
        .client
        .get(app.raw("/v.txt"))
        .query(&[("versionId", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // A version id of another file does not leak through this path.
    app.put("/other.txt", b"other").await;
    let resp = app
        .client
        .get(app.raw("/other.txt"))
        .query(&[("versionId", oldest)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
both!(versions_are_kept_and_served);

async fn details_need_read(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/secret/a.txt", b"a").await;
    let limited = app.key(KeyType::Secret, &["/other/*:read"]).await;
    for (key, path, status) in [
        (None, "/secret/a.txt", 401),
        (Some(&limited), "/secret/a.txt", 403),
        (Some(&limited), "/secret/missing.txt", 403),
        (Some(&app.secret), "/secret/missing.txt", 404),
        (Some(&app.secret), "/secret/a.txt", 200),
    ] {
        let mut req = app
            .client
            .get(app.api("/files/details"))
            .query(&[("filePath", path)]);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), status, "{path} with {key:?}");
    }
}
both!(details_need_read);

async fn signed_download_links(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/s/a.txt", b"secret a").await;
    app.put("/s/b.txt", b"secret b").await;
    let resp = app
        .client
        .put(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": "/s", "folderSettings": {"publicPermissions": {"set": true, "value": []}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let link = |path: &'static str, secs: i64| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.api("/files/signed_url"))
                .bearer_auth(&app.secret)
                .json(&json!({ "filePath": path, "expires_in": secs }))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, body) = link("/s/a.txt", 60).await;
    assert_eq!(s, 200);
    let url = body["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&app.raw("/s/a.txt?exp=")), "{url}");
    // Anyone with the link reads that file, privately cached.
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"secret a");
    assert_eq!(
        app.get_bytes("/s/a.txt").await.0,
        401,
        "still private without it"
    );
    // The signature is for that path only, and for that expiry.
    let other = url.replace("/s/a.txt", "/s/b.txt");
    let resp = app.client.get(&other).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_signature"
    );
    let (head, q) = url.split_once("exp=").unwrap();
    let (exp, rest) = q.split_once('&').unwrap();
    let later = format!("{head}exp={}&{rest}", exp.parse::<i64>().unwrap() + 3600);
    assert_eq!(app.client.get(&later).send().await.unwrap().status(), 401);
    // Expired.
    let (_, body) = link("/s/a.txt", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = app
        .client
        .get(body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "url_expired"
    );
    // Bad requests.
    assert_eq!(link("/s/none.txt", 60).await.0, 404);
    assert_eq!(link("/s/a.txt", 0).await.0, 400);
    let resp = app
        .client
        .post(app.api("/files/signed_url"))
        .json(&json!({ "filePath": "/s/a.txt" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
both!(signed_download_links);
