//! Issue #33: a node killed (`kill -9`) in the middle of a long tus PATCH
//! loses only the bytes since the PATCH's last checkpoint. After the
//! restart HEAD reports at least the checkpoint seen before the kill (so
//! more than 0, where it used to report the PATCH's start), never more than
//! was sent, and a client resuming from it ends with exactly the right bytes
//! and SHA-256. Runs on the file store, or on STOWAGE_TEST_STORAGE_URL (S3:
//! the native-part path).

use crate::common::sha256_hex;
use crate::crash::{bootstrap_lines, field, start_with_ttl, storage_url};
use crate::crash_tus::{create, head_offset, patch_head};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;
const LEN: usize = 24 * MIB;
/// Sent before the kill.
const SENT: usize = 20 * MIB;

fn bytes() -> Vec<u8> {
    (0..LEN)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(5) as u8)
        .collect()
}

/// Sends a PATCH head and `SENT` bytes of the body from a thread; the
/// returned stream is kept open (the node dies under it).
fn start_patch(addr: &str, path: &str, secret: &str, body: Vec<u8>) -> TcpStream {
    let s = patch_head(addr, path, secret, LEN);
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = writer.write_all(&body[..SENT]);
        let _ = writer.flush();
    });
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_patch_keeps_its_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage_url(dir.path());
    let (node, out) = start_with_ttl(dir.path(), &storage, 600);
    let lines = bootstrap_lines(&out);
    let (account, secret) = (field(&lines, "account:"), field(&lines, "secret key:"));
    let client = reqwest::Client::new();
    // /crash/ck.bin
    let path = create(
        &client,
        &node.addr,
        &account,
        &secret,
        LEN,
        "L2NyYXNoL2NrLmJpbg==",
    )
    .await;
    let stream = start_patch(&node.addr, &path, &secret, bytes());

    // Checkpoints while the PATCH lives: 8 and 16 MiB on the file store,
    // 5, 10, 15 MiB on S3.
    let live = format!("http://{}{path}", node.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let offset = head_offset(&client, &live, &secret).await;
        if offset >= 15 * MIB {
            break offset;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint past 15 MiB: {offset}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(node); // SIGKILL
    drop(stream);

    let (node, _) = start_with_ttl(dir.path(), &storage, 600);
    let base = format!("http://{}", node.addr);
    let after = head_offset(&client, &format!("{base}{path}"), &secret).await;
    assert!(
        after >= seen,
        "HEAD {after} < the checkpoint {seen} seen before the kill"
    );
    assert!(after <= SENT, "HEAD {after} counts bytes never sent");
    eprintln!("checkpoint before the kill {seen}, HEAD after the restart {after}");
    resume(&client, &base, &path, &secret, after).await;

    let got = client
        .get(format!("{base}/{account}/raw/crash/ck.bin"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let got = got.bytes().await.unwrap();
    assert!(got.as_ref() == bytes().as_slice(), "byte-exact");
    let details: serde_json::Value = client
        .get(format!("{base}/v2/accounts/{account}/files/details"))
        .query(&[("filePath", "/crash/ck.bin")])
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        details["etag"],
        sha256_hex(&bytes()),
        "the checkpoint's hash state"
    );
}

/// PATCHes the rest from `offset` until 204 (423 while the dead node's lease runs out).
async fn resume(client: &reqwest::Client, base: &str, path: &str, secret: &str, offset: usize) {
    let restarted = Instant::now();
    loop {
        let status = client
            .patch(format!("{base}{path}"))
            .bearer_auth(secret)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes()[offset..].to_vec())
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        if status == 204 {
            return;
        }
        assert!(status == 423 || status == 0, "resumed PATCH: {status}");
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "still locked"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
