//! SPEC §4 and the folder part of §7.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use stowage::auth::keys::KeyType;

async fn put_folder(app: &TestApp, path: &str, public_permissions: Value) -> Value {
    let resp = app
        .client
        .put(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({
            "folderPath": path,
            "folderSettings": {"publicPermissions": public_permissions, "description": {"set": false}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn preset(name: &str) -> Value {
    match name {
        "public" => json!({"set": true, "value": [
            {"scope": "Children", "permissions": {"file": {"downloadFile": ["*"]}}},
            {"scope": "Grandchildren+", "permissions": {"file": {"downloadFile": ["*"]}}}]}),
        "private" => json!({"set": true, "value": []}),
        "limited" => json!({"set": true, "value": [
            {"scope": "Children", "permissions": {"file": {"downloadFile": ["thumbnail"]}}},
            {"scope": "Grandchildren+", "permissions": {"file": {"downloadFile": ["thumbnail"]}}}]}),
        "children-only" => json!({"set": true, "value": [
            {"scope": "Children", "permissions": {"file": {"downloadFile": ["*"]}}}]}),
        "inherit" => json!({"set": true}),
        _ => unreachable!(),
    }
}

async fn status(app: &TestApp, path: &str, key: Option<&str>) -> u16 {
    let mut req = app.client.get(app.raw(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn visibility_is_inherited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let reader = app.key(KeyType::Secret, &["/a/**:read"]).await;
    let writer = app.key(KeyType::Secret, &["/**:create"]).await;
    for p in [
        "/a/x", "/a/b/x", "/a/b/c/x", "/a/z/x", "/l/x", "/k/x", "/k/y/x",
    ] {
        app.put(p, b"data").await;
    }
    assert_eq!(status(&app, "/a/x", None).await, 200, "default: public");

    let details = put_folder(&app, "/a", preset("private")).await;
    assert_eq!(details["settings"]["publicPermissions"], json!([]));
    assert_eq!(
        details["settingsInherited"]["publicPermissions"]["folderPath"],
        "/a"
    );
    assert_eq!(details["virtual"], true);
    for p in ["/a/x", "/a/b/x", "/a/missing"] {
        assert_eq!(status(&app, p, None).await, 401, "anonymous {p}");
        assert_eq!(status(&app, p, Some(&writer)).await, 403, "no read {p}");
    }
    assert_eq!(status(&app, "/a/x", Some(&reader)).await, 200);
    assert_eq!(status(&app, "/a/missing", Some(&reader)).await, 404);
    let resp = app
        .client
        .get(app.raw("/a/x"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");

    // Public on /a/b re-opens /a/b and below only.
    put_folder(&app, "/a/b", preset("public")).await;
    assert_eq!(status(&app, "/a/b/x", None).await, 200);
    assert_eq!(status(&app, "/a/b/c/x", None).await, 200);
    assert_eq!(status(&app, "/a/z/x", None).await, 401);
    assert_eq!(status(&app, "/a/x", None).await, 401);
    let resp = app.client.get(app.raw("/a/b/x")).send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");

    // Limited keeps originals private; Children-only leaves grandchildren private.
    put_folder(&app, "/l", preset("limited")).await;
    assert_eq!(status(&app, "/l/x", None).await, 401);
    put_folder(&app, "/k", preset("children-only")).await;
    assert_eq!(status(&app, "/k/x", None).await, 200);
    assert_eq!(status(&app, "/k/y/x", None).await, 401);

    // Removing /a/b's setting makes it inherit /a's Private again; removing /a's
    // restores the default.
    let d = put_folder(&app, "/a/b", preset("inherit")).await;
    assert_eq!(d["settings"], json!({}));
    assert_eq!(
        d["settingsInherited"]["publicPermissions"]["folderPath"],
        "/a"
    );
    assert_eq!(status(&app, "/a/b/x", None).await, 401);
    put_folder(&app, "/a", preset("inherit")).await;
    assert_eq!(status(&app, "/a/b/x", None).await, 200);

    // A bad cookie-less credential on a public file is still 401, never anonymous.
    assert_eq!(status(&app, "/a/b/x", Some("secret_bad")).await, 401);
}
both!(visibility_is_inherited);

async fn folder_details_and_patch_semantics(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/docs/2024/a.txt", b"a").await;
    let get = |path: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .get(app.api("/folders"))
                .query(&[("folderPath", path)])
                .bearer_auth(&app.secret)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, d) = get("/docs").await;
    assert_eq!(s, 200);
    assert_eq!(d["type"], "Folder");
    assert_eq!(d["virtual"], false, "implicit folder");
    assert_eq!(
        d["settingsInherited"]["publicPermissions"]["folderPath"],
        "/"
    );
    assert_eq!(get("/nothing").await.0, 404);
    let (s, _) = get("/").await;
    assert_eq!(s, 200);

    let put = |body: Value| {
        let app = &app;
        async move {
            let resp = app
                .client
                .put(app.api("/folders"))
                .bearer_auth(&app.secret)
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (_, d) = put(json!({"folderPath": "/docs/", "folderSettings": {
        "description": {"set": true, "value": "Documents"},
        "publicPermissions": preset("private")}}))
    .await;
    assert_eq!(d["folderPath"], "/docs");
    assert_eq!(
        d["settings"],
        json!({"description": "Documents", "publicPermissions": []})
    );
    // {set:false} leaves a setting alone; {set:true} without value removes it.
    let (_, d) = put(json!({"folderPath": "/docs", "folderSettings": {
        "description": {"set": false}, "publicPermissions": {"set": true}}}))
    .await;
    assert_eq!(d["settings"], json!({"description": "Documents"}));
    let (_, d) =
        put(json!({"folderPath": "/docs", "folderSettings": {"description": {"set": true}}})).await;
    assert_eq!(d["settings"], json!({}));
    assert_eq!(d["virtual"], true);
    // Bad input.
    let (s, d) = put(json!({"folderPath": "/docs", "folderSettings": {
        "publicPermissions": {"set": true, "value": [{"scope": "Everything"}]}}}))
    .await;
    assert_eq!(s, 400, "{d}");
    assert!(d["error"]["suggestion"]
        .as_str()
        .unwrap()
        .contains("Grandchildren+"));
    let (s, _) = put(json!({"folderPath": "docs"})).await;
    assert_eq!(s, 400);
    let (s, d) = put(json!({"folderPath": "/a/../b"})).await;
    assert_eq!(
        (s, d["error"]["code"].as_str()),
        (400, Some("invalid_path"))
    );
    // Folder changes need `folders`.
    let resp = app
        .client
        .put(app.api("/folders"))
        .bearer_auth(&app.public)
        .json(&json!({"folderPath": "/docs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .get(app.api("/folders/list"))
        .query(&[("folderPath", "/docs")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "listing needs a credential");
}
both!(folder_details_and_patch_semantics);

async fn list_page(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let resp = app
        .client
        .get(app.api("/folders/list"))
        .query(query)
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let t = i["type"].as_str().unwrap();
            let p = i["filePath"].as_str().or(i["folderPath"].as_str()).unwrap();
            format!("{t}:{p}")
        })
        .collect()
}

async fn listing_children_and_subtrees(b: Backend) {
    let app = TestApp::spawn(b).await;
    for p in [
        "/l/a.txt",
        "/l/b/c.txt",
        "/l/b/d/e.txt",
        "/l/b.txt",
        "/other.txt",
    ] {
        app.put(p, b"x").await;
    }
    put_folder(&app, "/l/empty", json!({"set": false})).await;
    let page = list_page(&app, &[("folderPath", "/l")]).await;
    assert_eq!(
        names(&page),
        vec![
            "File:/l/a.txt",
            "Folder:/l/b",
            "File:/l/b.txt",
            "Folder:/l/empty"
        ]
    );
    assert_eq!(page["isPaginationComplete"], true);
    assert_eq!(page["folder"]["folderPath"], "/l");
    let file = &page["items"][0];
    assert_eq!(file["size"], 1);
    assert_eq!(
        file["fileUrl"],
        format!("{}/{}/raw/l/a.txt", app.url, app.account)
    );
    assert_eq!(page["items"][3]["virtual"], true);

    let page = list_page(&app, &[("folderPath", "/l"), ("recursive", "true")]).await;
    assert_eq!(
        names(&page),
        vec![
            "File:/l/a.txt",
            "Folder:/l/b",
            "File:/l/b.txt",
            "File:/l/b/c.txt",
            "Folder:/l/b/d",
            "File:/l/b/d/e.txt",
            "Folder:/l/empty"
        ]
    );
    let page = list_page(&app, &[("folderPath", "/l"), ("includeFiles", "false")]).await;
    assert_eq!(names(&page), vec!["Folder:/l/b", "Folder:/l/empty"]);
    // Paging one item at a time visits the same sequence.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = list_page(
            &app,
            &[
                ("folderPath", "/l"),
                ("recursive", "true"),
                ("limit", "1"),
                ("cursor", &cursor),
            ],
        )
        .await;
        seen.extend(names(&page));
        cursor = page["cursor"].as_str().unwrap().to_string();
        if page["isPaginationComplete"] == true {
            break;
        }
    }
    assert_eq!(seen.len(), 7);
    // Deleting the last file of an implicit folder removes the folder.
    app.client
        .delete(app.api("/files"))
        .query(&[("filePath", "/l/b/d/e.txt")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    let page = list_page(&app, &[("folderPath", "/l/b")]).await;
    assert_eq!(names(&page), vec!["File:/l/b/c.txt"]);
    // Bad parameters.
    for q in [
        vec![("folderPath", "/l"), ("limit", "0")],
        vec![("folderPath", "/l"), ("limit", "1001")],
        vec![("folderPath", "/l"), ("cursor", "!!")],
    ] {
        let resp = app
            .client
            .get(app.api("/folders/list"))
            .query(&q)
            .bearer_auth(&app.secret)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{q:?}");
    }
}
both!(listing_children_and_subtrees);

async fn listing_is_stable_under_concurrent_uploads(b: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(b).await);
    let mut expected = HashSet::new();
    for i in 0..2500 {
        let path = format!("/big/f{i:05}.txt");
        // Straight into the store: the listing, not the upload path, is under test.
        let row = stowage::meta::FileRow {
            account_id: app.account.clone(),
            path: path.clone(),
            version_id: format!("v{i}"),
            blob_key: format!("{}/k{i}", app.account),
            size: 1,
            mime: "text/plain".into(),
            etag: "e".into(),
            original_file_name: None,
            metadata: "{}".into(),
            tags: "[]".into(),
            created_at: 1,
            sha256: None,
        };
        app.state
            .meta
            .gc_register(&row.blob_key, i64::MAX)
            .await
            .unwrap();
        app.state
            .meta
            .commit_file(&row, false, stowage::meta::BlobClaim::Staged)
            .await
            .unwrap();
        expected.insert(path);
    }
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                // Interleaved names land before and after the listing's cursor.
                app.put(&format!("/big/f{:05}.txt-new", (i * 13) % 2500), b"n")
                    .await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = list_page(
            &app,
            &[
                ("folderPath", "/big"),
                ("limit", "1000"),
                ("cursor", &cursor),
            ],
        )
        .await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1000);
        seen.extend(
            items
                .iter()
                .map(|i| i["filePath"].as_str().unwrap().to_string()),
        );
        cursor = page["cursor"].as_str().unwrap().to_string();
        pages += 1;
        if page["isPaginationComplete"] == true {
            break;
        }
    }
    writer.await.unwrap();
    assert!(pages >= 3);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "stable path order");
    for p in &expected {
        assert_eq!(seen.iter().filter(|s| *s == p).count(), 1, "{p}");
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates in listing");
}
both!(listing_is_stable_under_concurrent_uploads);

async fn delete_folder_with_files(b: Backend) {
    let app = TestApp::spawn(b).await;
    for p in ["/d/a.txt", "/d/s/b.txt", "/keep.txt"] {
        app.put(p, b"x").await;
    }
    put_folder(&app, "/d", preset("private")).await;
    // Non-recursive, no files: settings go, files stay.
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": "/d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        status(&app, "/d/a.txt", None).await,
        200,
        "private setting removed"
    );
    // A public key may not delete folders.
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&app.public)
        .json(&json!({"folderPath": "/d", "recursive": true, "deleteFiles": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .delete(app.api("/folders"))
        .bearer_auth(&app.secret)
        .json(&json!({"folderPath": "/d", "recursive": true, "deleteFiles": true}))
        .send()
        .await
        .unwrap();
    let out: Value = resp.json().await.unwrap();
    assert_eq!(out["deletedFiles"], 2);
    assert_eq!(status(&app, "/d/s/b.txt", None).await, 404);
    assert_eq!(status(&app, "/keep.txt", None).await, 200);
    assert_eq!(
        app.blob_keys().await.len(),
        1,
        "deleted files' bytes removed"
    );
    let page = list_page(&app, &[("folderPath", "/")]).await;
    assert_eq!(names(&page), vec!["File:/keep.txt"]);
}
both!(delete_folder_with_files);

async fn visibility_change_reaches_a_second_node(b: Backend) {
    let a = TestApp::spawn(b).await;
    let node_b = a.spawn_peer().await;
    a.put("/v/x.txt", b"x").await;
    assert_eq!(status(&node_b, "/v/x.txt", None).await, 200);
    put_folder(&a, "/v", preset("private")).await;
    let start = Instant::now();
    while status(&node_b, "/v/x.txt", None).await != 401 {
        assert!(
            start.elapsed() < Duration::from_millis(1100),
            "node B still serves it publicly"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
both!(visibility_change_reaches_a_second_node);
