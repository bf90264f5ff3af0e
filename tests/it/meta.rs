//! The metadata store's contract, on both backends, plus the sweeper.

use crate::both;
use crate::common::{Backend, TestApp};
use stowage::meta::{now_ms, BlobClaim, CommitOutcome, FileRow};

fn row(app: &TestApp, path: &str, version: &str, blob: &str) -> FileRow {
    FileRow {
        account_id: app.account.clone(),
        path: path.into(),
        version_id: version.into(),
        blob_key: blob.into(),
        size: 1,
        mime: "text/plain".into(),
        etag: "e".into(),
        original_file_name: None,
        metadata: "{}".into(),
        tags: "[]".into(),
        created_at: now_ms(),
        sha256: None,
    }
}

async fn commit_is_conditional_and_atomic(b: Backend) {
    let app = TestApp::spawn(b).await;
    let meta = &app.state.meta;
    meta.gc_register("k1", i64::MAX).await.unwrap();
    let r1 = row(&app, "/m.txt", "v1", "k1");
    assert_eq!(
        meta.commit_file(&r1, false, BlobClaim::Staged)
            .await
            .unwrap(),
        CommitOutcome::Committed {
            dropped_blobs: vec![],
            blob_key: "k1".into(),
        }
    );
    // The commit claimed the blob: no GC entry is left for it.
    assert!(meta.gc_due(i64::MAX, 10).await.unwrap().is_empty());
    // Without overwrite a second commit changes nothing, history included.
    let r2 = row(&app, "/m.txt", "v2", "k2");
    meta.gc_register("k2", i64::MAX).await.unwrap();
    assert_eq!(
        meta.commit_file(&r2, false, BlobClaim::Staged)
            .await
            .unwrap(),
        CommitOutcome::Exists
    );
    assert_eq!(
        meta.get_file(&app.account, "/m.txt")
            .await
            .unwrap()
            .unwrap()
            .version_id,
        "v1"
    );
    assert_eq!(
        meta.list_versions(&app.account, "/m.txt")
            .await
            .unwrap()
            .len(),
        1
    );
    // With overwrite it becomes current and v1 stays as history.
    assert!(matches!(
        meta.commit_file(&r2, true, BlobClaim::Staged)
            .await
            .unwrap(),
        CommitOutcome::Committed { .. }
    ));
    let current = meta
        .get_file(&app.account, "/m.txt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current, r2);
    assert_eq!(
        meta.get_version(&app.account, "/m.txt", "v1")
            .await
            .unwrap()
            .unwrap(),
        r1
    );
    // Delete queues both blobs for the sweeper (due now).
    let mut dropped = meta
        .delete_file(&app.account, "/m.txt", 5)
        .await
        .unwrap()
        .unwrap();
    dropped.sort();
    assert_eq!(dropped, vec!["k1", "k2"]);
    let mut due = meta.gc_due(10, 10).await.unwrap();
    due.sort();
    assert_eq!(due, vec!["k1", "k2"]);
    assert!(meta.gc_due(4, 10).await.unwrap().is_empty());
    assert!(meta
        .get_file(&app.account, "/m.txt")
        .await
        .unwrap()
        .is_none());
    assert!(meta
        .delete_file(&app.account, "/m.txt", 5)
        .await
        .unwrap()
        .is_none());
    // A blob the sweeper already took cannot be committed.
    let r3 = row(&app, "/n.txt", "v3", "swept");
    let err = meta
        .commit_file(&r3, false, BlobClaim::Staged)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "service_unavailable");
    assert!(meta
        .get_file(&app.account, "/n.txt")
        .await
        .unwrap()
        .is_none());
}
both!(commit_is_conditional_and_atomic);

async fn sweeper_removes_abandoned_blobs(b: Backend) {
    let app = TestApp::spawn(b).await;
    let orphan = format!("{}/orphan", app.account);
    let young = format!("{}/young", app.account);
    app.state
        .blobs
        .put_bytes(&orphan, "x".into())
        .await
        .unwrap();
    app.state.blobs.put_bytes(&young, "y".into()).await.unwrap();
    // A crash after streaming left these entries: one is due, one is not yet.
    app.state
        .meta
        .gc_register(&orphan, now_ms() - 1)
        .await
        .unwrap();
    app.state
        .meta
        .gc_register(&young, now_ms() + 60_000)
        .await
        .unwrap();
    assert_eq!(stowage::domain::sweeper::sweep_once(&app.state).await, 1);
    assert_eq!(app.blob_keys().await, vec![young.clone()]);
    assert_eq!(
        app.state.meta.gc_due(i64::MAX, 10).await.unwrap(),
        vec![young]
    );
}
both!(sweeper_removes_abandoned_blobs);

#[test]
fn migrations_stay_in_step() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("migrations/sqlite"), names("migrations/postgres"));
}
