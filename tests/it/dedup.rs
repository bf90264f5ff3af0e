//! SPEC §5: within one account identical bytes are stored once and counted by
//! reference; deleting, overwriting, pruning or copying never removes bytes
//! another file or version uses, and never leaks bytes nothing uses.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use stowage::auth::keys::KeyType;

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// (objects, bytes) stored under the account's prefix, read from the store.
async fn store_usage(app: &TestApp) -> (usize, usize) {
    let keys = app.blob_keys().await;
    let mut bytes = 0;
    for k in &keys {
        bytes += app.state.blobs.get_bytes(k).await.unwrap().len();
    }
    (keys.len(), bytes)
}

async fn delete(app: &TestApp, path: &str) -> u16 {
    app.client
        .delete(app.api("/files"))
        .query(&[("filePath", path)])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn identical_uploads_are_stored_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    const MIB8: usize = 8 * 1024 * 1024;
    let data = random_bytes(MIB8, 1);
    let a = app.put("/a.bin", &data).await;
    assert_eq!(store_usage(&app).await, (1, MIB8));
    let b2 = app.put("/b.bin", &data).await;
    assert_eq!(a["etag"], b2["etag"]);
    assert_eq!(
        store_usage(&app).await,
        (1, MIB8),
        "the second copy is not kept"
    );
    assert_eq!(
        app.state.meta.blob_usage(&app.account).await.unwrap(),
        (1, MIB8 as i64, 2)
    );
    // Deleting either leaves the other byte-exact.
    assert_eq!(delete(&app, "/a.bin").await, 204);
    assert_eq!(app.get_bytes("/b.bin").await.1, data);
    assert_eq!(store_usage(&app).await, (1, MIB8));
    assert_eq!(delete(&app, "/b.bin").await, 204);
    assert_eq!(
        store_usage(&app).await,
        (0, 0),
        "the last reference frees the bytes"
    );
    assert!(app
        .state
        .meta
        .gc_due(i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
}
both!(identical_uploads_are_stored_once);

async fn overwrite_copy_and_history_share_blobs(b: Backend) {
    let app = TestApp::spawn(b).await;
    let one = random_bytes(50_000, 2);
    let two = random_bytes(40_000, 3);
    // Overwriting with identical bytes: two versions, one object.
    app.put("/x.bin", &one).await;
    app.put("/x.bin", &one).await;
    assert_eq!(store_usage(&app).await, (1, one.len()));
    assert_eq!(
        app.state
            .meta
            .list_versions(&app.account, "/x.bin")
            .await
            .unwrap()
            .len(),
        2
    );
    // Copy adds a reference, not bytes.
    let resp = app
        .client
        .post(app.api("/files/copy"))
        .bearer_auth(&app.secret)
        .json(&json!({"source": "/x.bin", "destination": "/y.bin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(store_usage(&app).await, (1, one.len()));
    assert_eq!(app.state.meta.blob_usage(&app.account).await.unwrap().2, 3);
    // Overwrite the copy with other bytes; its history still holds the shared blob.
    app.put("/y.bin", &two).await;
    assert_eq!(store_usage(&app).await, (2, one.len() + two.len()));
    assert_eq!(delete(&app, "/x.bin").await, 204);
    assert_eq!(store_usage(&app).await, (2, one.len() + two.len()));
    let old = &app
        .state
        .meta
        .list_versions(&app.account, "/y.bin")
        .await
        .unwrap()[1];
    let resp = app
        .client
        .get(app.raw("/y.bin"))
        .query(&[("versionId", &old.version_id)])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().to_vec(), one);
    assert_eq!(app.get_bytes("/y.bin").await.1, two);
    assert_eq!(delete(&app, "/y.bin").await, 204);
    assert_eq!(store_usage(&app).await, (0, 0));
}
both!(overwrite_copy_and_history_share_blobs);

async fn never_across_accounts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let data = random_bytes(10_000, 4);
    app.put("/same.bin", &data).await;
    let other = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
        .await
        .unwrap()
        .id;
    let key = app.key_for(&other, KeyType::Secret, &[]).await;
    let resp = app
        .client
        .post(format!("{}/v2/accounts/{other}/uploads/binary", app.url))
        .query(&[("filePath", "/same.bin")])
        .bearer_auth(&key)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(store_usage(&app).await, (1, data.len()));
    let theirs = app.state.blobs.list(&other).await.unwrap();
    assert_eq!(theirs.len(), 1, "the other account keeps its own copy");
    assert_eq!(
        app.state
            .blobs
            .get_bytes(&theirs[0])
            .await
            .unwrap()
            .to_vec(),
        data
    );
}
both!(never_across_accounts);

/// 100 uploads (two contents) and 100 deletes, all at once: afterwards the
/// store holds exactly the objects the remaining files use.
async fn concurrent_uploads_and_deletes(b: Backend) {
    let app = Arc::new(TestApp::spawn(b).await);
    let contents = [random_bytes(30_000, 5), random_bytes(20_000, 6)];
    let mut tasks = Vec::new();
    for i in 0..100usize {
        let up = app.clone();
        let data = contents[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let resp = up
                .upload(&up.secret, &format!("/c/{}.bin", i % 40), data)
                .await;
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        }));
        let del = app.clone();
        tasks.push(tokio::spawn(async move {
            let s = delete(&del, &format!("/c/{}.bin", (i * 7) % 40)).await;
            assert!(s == 204 || s == 404, "delete: {s}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    stowage::domain::sweeper::sweep_once(&app.state).await;
    // Which contents do the remaining files and their versions use?
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut versions = 0;
    for i in 0..40 {
        let path = format!("/c/{i}.bin");
        for v in app
            .state
            .meta
            .list_versions(&app.account, &path)
            .await
            .unwrap()
        {
            *used.entry(v.blob_key.clone()).or_default() += 1;
            versions += 1;
        }
        let (status, body) = app.get_bytes(&path).await;
        if status == 200 {
            assert!(
                body == contents[0] || body == contents[1],
                "{path} byte-exact"
            );
        }
    }
    assert!(used.len() <= 2, "at most one object per content: {used:?}");
    let mut stored: Vec<String> = app.blob_keys().await;
    stored.sort();
    let referenced: Vec<String> = used.keys().cloned().collect();
    assert_eq!(stored, referenced, "no leak, no loss");
    let (objects, _, refs) = app.state.meta.blob_usage(&app.account).await.unwrap();
    assert_eq!((objects as usize, refs as usize), (used.len(), versions));
    // Deleting the rest frees everything.
    for i in 0..40 {
        delete(&app, &format!("/c/{i}.bin")).await;
    }
    stowage::domain::sweeper::sweep_once(&app.state).await;
    assert_eq!(app.blob_keys().await, Vec::<String>::new());
    assert_eq!(
        app.state.meta.blob_usage(&app.account).await.unwrap(),
        (0, 0, 0)
    );
    let usage = app.state.meta.usage_row(&app.account).await.unwrap();
    assert_eq!(usage, Some(Default::default()), "the usage row followed");
}
both!(concurrent_uploads_and_deletes);

/// A version committed without a known SHA-256 (as a store-side multipart
/// completion will be) gets one from the background pass, which also merges
/// it into the account's identical object.
async fn digest_pass_hashes_and_merges(b: Backend) {
    use stowage::meta::{now_ms, BlobClaim, FileRow};
    let app = TestApp::spawn(b).await;
    let data = random_bytes(100_000, 7);
    app.put("/known.bin", &data).await;
    let key = format!("{}/unhashed", app.account);
    app.state
        .blobs
        .put_bytes(&key, data.clone().into())
        .await
        .unwrap();
    app.state.meta.gc_register(&key, i64::MAX).await.unwrap();
    let row = FileRow {
        account_id: app.account.clone(),
        path: "/late.bin".into(),
        version_id: "late1".into(),
        blob_key: key.clone(),
        size: data.len() as i64,
        mime: "application/octet-stream".into(),
        etag: "not-a-sha".into(),
        original_file_name: None,
        metadata: "{}".into(),
        tags: "[]".into(),
        created_at: now_ms(),
        sha256: None,
    };
    app.state
        .meta
        .commit_file(&row, false, BlobClaim::Staged)
        .await
        .unwrap();
    let resp = app.client.get(app.raw("/late.bin")).send().await.unwrap();
    assert!(
        resp.headers().get("repr-digest").is_none(),
        "unknown digest: none sent"
    );
    assert_eq!(app.state.meta.unhashed_count().await.unwrap(), 1);
    let usage = app
        .state
        .meta
        .usage_row(&app.account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((usage.bytes, usage.stored_bytes), (200_000, 200_000));
    assert_eq!(
        stowage::domain::digests::run_once(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.state.meta.unhashed_count().await.unwrap(), 0);
    // Merged: the late file now uses the first object; its own is queued.
    let late = app
        .state
        .meta
        .get_file(&app.account, "/late.bin")
        .await
        .unwrap()
        .unwrap();
    let known = app
        .state
        .meta
        .get_file(&app.account, "/known.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(late.blob_key, known.blob_key);
    // The merged object is stored once (SPEC §12 storedBytes).
    let usage = app
        .state
        .meta
        .usage_row(&app.account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((usage.bytes, usage.stored_bytes), (200_000, 100_000));
    assert_eq!(
        usage,
        app.state.meta.recount_usage(&app.account).await.unwrap()
    );
    assert_eq!(late.sha256.as_deref(), Some(stowage_hex(&data).as_str()));
    assert_eq!(
        app.state.meta.gc_due(i64::MAX, 10).await.unwrap(),
        vec![key]
    );
    app.state.files.forget(&app.account, "/late.bin").await;
    let resp = app.client.get(app.raw("/late.bin")).send().await.unwrap();
    let want = format!(
        "sha-256=:{}:",
        crate::digest::b64(&sha2::Sha256::digest(&data))
    );
    assert_eq!(resp.headers()["repr-digest"].to_str().unwrap(), want);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data);
    // Resumable: a second run finds nothing to do.
    assert_eq!(
        stowage::domain::digests::run_once(&app.state)
            .await
            .unwrap(),
        0
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("stowage_digest_pending_files"), "{text}");
    assert!(text.contains("stowage_digest_hashed_bytes_total"));
}
both!(digest_pass_hashes_and_merges);

fn stowage_hex(data: &[u8]) -> String {
    crate::common::sha256_hex(data)
}

use sha2::Digest;
