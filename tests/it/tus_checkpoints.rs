//! Issue #33: a long tus PATCH records checkpoints while its bytes flow, so
//! HEAD reports the durable bytes during (and after the crash of) a PATCH:
//! on the file store every 8 MiB (or 5 s) after an fdatasync, on stores with
//! native multipart uploads (here `memory://`) at every part of 5 MiB. The
//! lease is kept (another PATCH is 423), a PATCH with `Upload-Checksum`
//! takes none, and the upload still ends byte-exact with the right SHA-256.
//! The crash itself: `crash_tus_checkpoint.rs`.

use crate::both;
use crate::common::{sha256_hex, Backend, Options, TestApp};
use crate::tus::{b64, create_ok, data, offset_of, patch};
use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use serde_json::Value;
use sha2::Digest;
use std::time::Duration;
use stowage::meta::TusUpload;

const MIB: usize = 1024 * 1024;
const LEN: usize = 20 * MIB;

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Starts a PATCH at `offset` whose body is fed through the returned sender;
/// the handle answers its status once the body ends.
fn streaming_patch(
    app: &TestApp,
    url: &str,
    offset: usize,
    checksum: Option<String>,
) -> (Sender, tokio::task::JoinHandle<u16>) {
    let (tx, rx) = mpsc::channel(4);
    let mut req = app
        .client
        .patch(url)
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(reqwest::Body::wrap_stream(rx));
    if let Some(c) = checksum {
        req = req.header("upload-checksum", c);
    }
    let handle = tokio::spawn(async move { req.send().await.map_or(0, |r| r.status().as_u16()) });
    (tx, handle)
}

async fn feed(tx: &mut Sender, bytes: &[u8]) {
    for piece in bytes.chunks(256 * 1024) {
        tx.send(Ok(Bytes::copy_from_slice(piece))).await.unwrap();
    }
}

async fn row(app: &TestApp, url: &str) -> TusUpload {
    let id = url.rsplit('/').next().unwrap();
    app.state
        .meta
        .get_tus(&app.account, id)
        .await
        .unwrap()
        .unwrap()
}

/// Waits until HEAD reports at least `at_least`; returns the offset.
async fn head_reaches(app: &TestApp, url: &str, at_least: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let offset = offset_of(app, &app.secret, url).await as usize;
        if offset >= at_least {
            return offset;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "HEAD still at {offset}, want ≥ {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the store takes native parts (`memory://`, S3 when
/// STOWAGE_TEST_STORAGE_URL says so) rather than appends (`file://`).
fn native(app: &TestApp) -> bool {
    !app.state.blobs.describe().starts_with("file://")
}

async fn checkpoints_while_bytes_flow(app: TestApp) {
    let bytes = data(LEN, 7);
    let url = create_ok(
        &app,
        &app.secret,
        LEN as u64,
        &[("filePath", "/tus/ck.bin")],
    )
    .await;
    // A first PATCH of 3 MiB: on a native store, a 3 MiB tail object.
    assert_eq!(
        patch(&app, &app.secret, &url, 0, bytes[..3 * MIB].to_vec())
            .await
            .status(),
        204
    );
    let tail = row(&app, &url).await.tail_key;
    assert_eq!(tail.is_some(), native(&app), "{tail:?}");

    let (mut tx, answer) = streaming_patch(&app, &url, 3 * MIB, None);
    feed(&mut tx, &bytes[3 * MIB..15 * MIB]).await;
    // File store: 3 + 8 MiB; native: parts end at 5, 10, 15 MiB.
    let want = if native(&app) { 10 * MIB } else { 11 * MIB };
    let offset = head_reaches(&app, &url, want).await;
    assert!(offset <= 15 * MIB, "never past the bytes sent: {offset}");
    if native(&app) {
        assert_eq!(offset % (5 * MIB), 0, "a part boundary: {offset}");
    }
    let r = row(&app, &url).await;
    assert_eq!(r.upload_offset as usize, offset);
    assert!(r.lock_token.is_some(), "the PATCH keeps its lease");
    assert_eq!(r.tail_key, None, "the tail is inside the first part now");
    if let Some(old) = tail {
        assert!(!app.blob_keys().await.contains(&old), "old tail deleted");
    }
    // Another PATCH, even at the checkpoint, waits for the live one.
    let other = patch(&app, &app.secret, &url, offset as u64, vec![0; 10]).await;
    assert_eq!(other.status(), 423);

    feed(&mut tx, &bytes[15 * MIB..]).await;
    drop(tx);
    assert_eq!(answer.await.unwrap(), 204);
    assert_done(&app, &bytes).await;
}

async fn assert_done(app: &TestApp, bytes: &[u8]) {
    let (status, got) = app.get_bytes("/tus/ck.bin").await;
    assert_eq!(status, 200);
    assert!(got == bytes, "byte-exact");
    let details: Value = app
        .client
        .get(app.api("/files/details"))
        .query(&[("filePath", "/tus/ck.bin")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(details["etag"], sha256_hex(bytes), "the resumed hash state");
    assert_eq!(app.blob_keys().await.len(), 1, "only the file's object");
}

async fn file_store(b: Backend) {
    checkpoints_while_bytes_flow(TestApp::spawn(b).await).await;
}
both!(file_store);

async fn native_store(b: Backend) {
    let opts = Options {
        storage_url: Some("memory://".into()),
        ..Options::default()
    };
    checkpoints_while_bytes_flow(TestApp::spawn_with(b, opts).await).await;
}
both!(native_store);

/// A PATCH with `Upload-Checksum` takes no checkpoint (its bytes count only
/// once the whole chunk checks out), and on the file store a slow PATCH
/// without one records what came within `CHECKPOINT_EVERY` (5 s) even below
/// 8 MiB (a native store records only whole parts).
async fn checksum_none_and_slow_ones(b: Backend) {
    let app = TestApp::spawn(b).await;
    let bytes = data(LEN, 9);
    let url = create_ok(
        &app,
        &app.secret,
        LEN as u64,
        &[("filePath", "/tus/ck.bin")],
    )
    .await;
    let digest = sha2::Sha256::digest(&bytes[..12 * MIB]);
    let checksum = format!("sha256 {}", b64(&digest));
    let (mut tx, answer) = streaming_patch(&app, &url, 0, Some(checksum));
    feed(&mut tx, &bytes[..11 * MIB]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(offset_of(&app, &app.secret, &url).await, 0, "no checkpoint");
    // The body is cut: a checked chunk keeps nothing.
    tx.send(Err(std::io::Error::other("cut"))).await.unwrap();
    drop(tx);
    assert_ne!(answer.await.unwrap(), 204);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(offset_of(&app, &app.secret, &url).await, 0);

    // A slow PATCH: 1 MiB, a pause past 5 s, then a few more bytes.
    let (mut tx, answer) = streaming_patch(&app, &url, 0, None);
    feed(&mut tx, &bytes[..MIB]).await;
    tokio::time::sleep(Duration::from_millis(5300)).await;
    feed(&mut tx, &bytes[MIB..MIB + 4096]).await;
    if native(&app) {
        // No part of 5 MiB yet: nothing durable to record (S3 runs).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(offset_of(&app, &app.secret, &url).await, 0);
    } else {
        let offset = head_reaches(&app, &url, MIB).await;
        assert!(offset <= MIB + 4096, "{offset}");
    }
    feed(&mut tx, &bytes[MIB + 4096..]).await;
    drop(tx);
    assert_eq!(answer.await.unwrap(), 204);
    assert_done(&app, &bytes).await;
}
both!(checksum_none_and_slow_ones);
