//! Issue #33: a tus PATCH cut by `kill -9` does not lock its upload for
//! minutes. The dead node's lease runs out within seconds (it is renewed by a
//! heartbeat only while a PATCH lives), so a client retrying after the
//! restart finishes the upload, byte-exact.

use crate::crash::{bootstrap_lines, field, start_with_ttl, storage_url};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const LEN: usize = 3 * 1024 * 1024;

fn bytes() -> Vec<u8> {
    (0..LEN).map(|i| (i % 251) as u8).collect()
}

/// Creates a tus upload of `len` bytes on a crash node, to the file path
/// whose base64 is `path_b64`; its URL path.
pub async fn create(
    client: &reqwest::Client,
    addr: &str,
    account: &str,
    secret: &str,
    len: usize,
    path_b64: &str,
) -> String {
    let created = client
        .post(format!("http://{addr}/v2/accounts/{account}/tus"))
        .bearer_auth(secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", len.to_string())
        .header("upload-metadata", format!("filePath {path_b64}"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    url::Url::parse(&location).unwrap().path().to_string()
}

/// A connection with the head of a PATCH from offset 0 for `len` bytes
/// written; the caller sends (some of) the body.
pub fn patch_head(addr: &str, path: &str, secret: &str, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PATCH {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {secret}\r\n\
         tus-resumable: 1.0.0\r\nupload-offset: 0\r\n\
         content-type: application/offset+octet-stream\r\ncontent-length: {len}\r\n\r\n"
    )
    .unwrap();
    s
}

/// The upload's `Upload-Offset` as HEAD reports it.
pub async fn head_offset(client: &reqwest::Client, url: &str, secret: &str) -> usize {
    let head = client
        .head(url)
        .bearer_auth(secret)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    head.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_cut_by_kill_9_can_be_resumed_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage_url(dir.path());
    let (node, out) = start_with_ttl(dir.path(), &storage, 600);
    let lines = bootstrap_lines(&out);
    let account = field(&lines, "account:");
    let secret = field(&lines, "secret key:");
    let client = reqwest::Client::new();
    // /crash/tus.bin
    let path = create(
        &client,
        &node.addr,
        &account,
        &secret,
        LEN,
        "L2NyYXNoL3R1cy5iaW4=",
    )
    .await;

    // A PATCH that sends 1 MiB of its 3 MiB, then the node dies under it.
    let mut s = patch_head(&node.addr, &path, &secret, LEN);
    s.write_all(&bytes()[..1024 * 1024]).unwrap();
    s.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(node); // SIGKILL
    drop(s);

    let (node, _) = start_with_ttl(dir.path(), &storage, 600);
    let base = format!("http://{}", node.addr);
    let restarted = Instant::now();
    let mut statuses = Vec::new();
    loop {
        let offset = head_offset(&client, &format!("{base}{path}"), &secret).await;
        // A refused PATCH may be answered before its body is read, and the
        // connection closed under the client (0 here).
        let status = client
            .patch(format!("{base}{path}"))
            .bearer_auth(&secret)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes()[offset..].to_vec())
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        statuses.push(status);
        if status == 204 {
            break;
        }
        assert!(
            status == 423 || status == 0,
            "only the dead node's lease may hold it: {statuses:?}"
        );
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "still locked {:?} after the restart: {statuses:?}",
            restarted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let got = client
        .get(format!("{base}/{account}/raw/crash/tus.bin"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert!(
        got.bytes().await.unwrap().as_ref() == bytes().as_slice(),
        "byte-exact"
    );
}

/// Issue #33: what a killed node was writing for a binary upload (nothing
/// can resume it) goes at the next sweep after the node is known dead (three
/// sweeps of silence, at least 10 s), not after the abandoned-upload TTL
/// (here an hour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_dead_node_go_before_the_ttl() {
    use crate::crash::{db_count, staging_files};
    let dir = tempfile::tempdir().unwrap();
    let storage = storage_url(dir.path());
    let (node, out) = start_with_ttl(dir.path(), &storage, 3600);
    let lines = bootstrap_lines(&out);
    let (account, secret) = (field(&lines, "account:"), field(&lines, "secret key:"));
    let mut s = TcpStream::connect(&node.addr).unwrap();
    write!(
        s,
        "POST /v2/accounts/{account}/uploads/binary?filePath=/crash/big.bin HTTP/1.1\r\n\
         host: x\r\nauthorization: Bearer {secret}\r\ncontent-length: 20971520\r\n\r\n"
    )
    .unwrap();
    s.write_all(&vec![0x5a; 12 * 1024 * 1024]).unwrap();
    s.flush().unwrap();
    let reached = Instant::now() + Duration::from_secs(10);
    while staging_files(dir.path()).is_empty() && db_count(dir.path(), "blob_gc_uploads").await == 0
    {
        assert!(
            Instant::now() < reached,
            "the upload never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(node); // SIGKILL
    drop(s);
    assert_eq!(
        db_count(dir.path(), "blob_gc").await,
        1,
        "the crash left its GC entry"
    );

    let (_node, _) = start_with_ttl(dir.path(), &storage, 3600);
    let restarted = Instant::now();
    loop {
        let gc = db_count(dir.path(), "blob_gc").await;
        let journal = db_count(dir.path(), "blob_gc_uploads").await;
        let staging = staging_files(dir.path());
        if gc == 0 && journal == 0 && staging.is_empty() {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(40),
            "still there {:?} after the restart: gc {gc}, journal {journal}, staging {staging:?}",
            restarted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let blobs = stowage::blobs::Blobs::from_url(&storage).unwrap();
    assert!(
        blobs.list(&account).await.unwrap().is_empty(),
        "the object is gone"
    );
}
