//! Issue #28: cached transformation results count in `storedBytes` (SPEC
//! §12 `GET …/usage`): added when stored, subtracted when evicted (the
//! per-source cap) or dropped with their source, and counted by a recount.
//! They are not under `maxStorageBytes` (which bounds `bytes`): an account
//! at its quota still renders and caches variants.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::images::{image_url, jpeg};
use serde_json::json;
use stowage::meta::MAX_DERIVED_PER_SOURCE;

/// `[files, versions, bytes, storedBytes]` of `GET …/usage`.
async fn counts(app: &TestApp) -> [i64; 4] {
    let u = crate::quotas::usage(app).await;
    ["files", "versions", "bytes", "storedBytes"].map(|k| u[k].as_i64().unwrap())
}

/// Renders `path_and_query`; returns the served body's length.
async fn render(app: &TestApp, path_and_query: &str) -> i64 {
    let resp = app
        .client
        .get(image_url(app, "image", path_and_query))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{path_and_query}");
    resp.bytes().await.unwrap().len() as i64
}

async fn derived_bytes(app: &TestApp) -> i64 {
    let rows = app.state.meta.list_derived(&app.account).await.unwrap();
    rows.iter().map(|r| r.size).sum()
}

/// The row as kept equals a recount, and the usage route says the same.
async fn assert_recount_agrees(app: &TestApp) {
    let kept = app
        .state
        .meta
        .usage_row(&app.account)
        .await
        .unwrap()
        .unwrap();
    let recounted = app.state.meta.recount_usage(&app.account).await.unwrap();
    assert_eq!(kept, recounted, "incremental row = recount");
}

async fn derived_results_are_stored_bytes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (photo, other) = (jpeg(64, 48), jpeg(32, 32));
    app.put("/photo.jpg", &photo).await;
    app.put("/other.jpg", &other).await;
    let (p, o) = (photo.len() as i64, other.len() as i64);
    assert_eq!(counts(&app).await, [2, 2, p + o, p + o]);

    let served = render(&app, "/photo.jpg?w=20&f=png").await;
    let rows = app.state.meta.list_derived(&app.account).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].size, served, "the cached object is what was served");
    assert_eq!(
        counts(&app).await,
        [2, 2, p + o, p + o + served],
        "storedBytes grows by the result, bytes does not"
    );
    assert_recount_agrees(&app).await;
    // A cache hit stores nothing more.
    assert_eq!(render(&app, "/photo.jpg?w=20&f=png").await, served);
    assert_eq!(counts(&app).await[3], p + o + served);

    // Results of the other image, then its deletion drops them.
    let o1 = render(&app, "/other.jpg?w=10&f=png").await;
    let o2 = render(&app, "/other.jpg?w=12&f=webp").await;
    assert_eq!(counts(&app).await[3], p + o + served + o1 + o2);
    let del = app
        .client
        .delete(app.api("/files"))
        .query(&[("filePath", "/other.jpg")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    assert_eq!(counts(&app).await, [1, 1, p, p + served]);
    assert_recount_agrees(&app).await;

    // An overwrite ends the old version's results.
    let photo2 = jpeg(48, 40);
    app.put("/photo.jpg", &photo2).await;
    let u = counts(&app).await;
    assert_eq!(derived_bytes(&app).await, 0);
    assert_eq!(
        u[3], u[2],
        "no result left: storedBytes = the versions' blobs"
    );
    assert_recount_agrees(&app).await;
}
both!(derived_results_are_stored_bytes);

/// Evicting the oldest results past the per-source cap subtracts them.
async fn evicted_results_are_subtracted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let photo = jpeg(64, 48);
    app.put("/sweep.jpg", &photo).await;
    for w in 1..=(MAX_DERIVED_PER_SOURCE as usize + 3) {
        render(&app, &format!("/sweep.jpg?w={w}&f=png")).await;
    }
    let rows = app.state.meta.list_derived(&app.account).await.unwrap();
    assert_eq!(rows.len(), MAX_DERIVED_PER_SOURCE as usize);
    let kept = derived_bytes(&app).await;
    assert_eq!(
        counts(&app).await,
        [1, 1, photo.len() as i64, photo.len() as i64 + kept]
    );
    assert_recount_agrees(&app).await;
    // A row wrong by the results is repaired by `stowage accounts usage --recount`.
    let meta = &app.state.meta;
    let mut row = meta.usage_row(&app.account).await.unwrap().unwrap();
    row.stored_bytes = 7;
    meta.set_usage_row(&app.account, row).await.unwrap();
    let out = recount_cli(&app).await;
    let want = photo.len() as i64 + kept;
    assert!(
        out.trim().ends_with(&format!("stored bytes {want}")),
        "{out}"
    );
    assert_eq!(counts(&app).await[3], want);
}

/// `stowage accounts usage --account A --recount`'s output.
async fn recount_cli(app: &TestApp) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_stowage"));
    c.current_dir(cwd.path())
        .env_remove("STOWAGE_SECRET_KEY")
        .env_remove("STOWAGE_CONFIG")
        .env("RUST_LOG", "warn")
        .args(["accounts", "usage", "--account", &app.account, "--recount"]);
    for (k, v) in app.cli_env() {
        c.env(k, v);
    }
    let out = c.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
both!(evicted_results_are_subtracted);

/// An account at its `maxStorageBytes` still renders, caches and serves
/// variants (they are not under that quota), while an upload is refused.
async fn a_full_account_still_caches_variants(b: Backend) {
    let app = TestApp::spawn(b).await;
    let photo = jpeg(64, 48);
    app.put("/full.jpg", &photo).await;
    let limits = app
        .client
        .put(app.api("/limits"))
        .bearer_auth(&app.secret)
        .json(&json!({"maxStorageBytes": photo.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(limits.status(), 200);
    let refused = app.upload(&app.secret, "/more.bin", vec![1; 10]).await;
    assert_eq!(refused.status(), 413);

    let served = render(&app, "/full.jpg?w=30&f=png").await;
    assert_eq!(derived_bytes(&app).await, served, "cached");
    let u = counts(&app).await;
    assert_eq!(u[2], photo.len() as i64, "bytes stay at the quota");
    assert_eq!(u[3], photo.len() as i64 + served, "storedBytes past it");
    // Served again from the cache.
    assert_eq!(render(&app, "/full.jpg?w=30&f=png").await, served);
    assert_recount_agrees(&app).await;
}
both!(a_full_account_still_caches_variants);
