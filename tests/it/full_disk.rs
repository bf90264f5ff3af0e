//! A full disk under the file store (SPEC §8): every upload route answers
//! 507 `insufficient_storage` with no `Retry-After`, keeps nothing of the
//! refused bytes (the filesystem's usage is back where it was at once), and
//! the store takes uploads again as soon as there is room. The disk is a
//! small tmpfs mounted for the test (root only; elsewhere it is skipped with
//! a notice).

use crate::common::{Backend, Options, TestApp};
use reqwest::Response;
use serde_json::{json, Value};
use std::process::Command;

const MIB: usize = 1024 * 1024;

struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: usize) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("notice: no tmpfs could be mounted (needs root): full-disk test skipped");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn url(&self) -> String {
        format!("file://{}/blobs", self.dir.path().display())
    }

    /// Bytes in use on the filesystem.
    fn used(&self) -> u64 {
        let st = rustix::fs::statvfs(self.dir.path()).unwrap();
        (st.f_blocks - st.f_bfree) * st.f_frsize
    }

    /// Asserts the filesystem holds (almost) nothing: what a refused upload
    /// wrote is gone.
    fn assert_empty(&self, after: &str) {
        let used = self.used();
        assert!(used < 64 * 1024, "{used} bytes still used after {after}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn app_on(disk: &Tmpfs) -> TestApp {
    let opts = Options {
        storage_url: Some(disk.url()),
        ..Options::default()
    };
    TestApp::spawn_with(Backend::Sqlite, opts).await
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// A 507 `insufficient_storage` that invites no retry.
async fn assert_full(resp: Response, what: &str) {
    assert_eq!(resp.status(), 507, "{what}");
    assert!(resp.headers().get("retry-after").is_none(), "{what}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "insufficient_storage",
        "{what}: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("full"), "{what}: {message}");
    assert!(!message.contains("unreachable"), "{what}: {message}");
    assert!(!body["error"]["suggestion"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_form_uploads_on_a_full_disk() {
    let Some(disk) = Tmpfs::mount(4) else { return };
    let app = app_on(&disk).await;
    let resp = app
        .upload(&app.secret, "/full/big.bin", bytes(6 * MIB, 1))
        .await;
    assert_full(resp, "binary").await;
    disk.assert_empty("a refused binary upload");

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes(6 * MIB, 2)).file_name("big.bin"),
    );
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .query(&[("filePath", "/full/form.bin")])
        .bearer_auth(&app.secret)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_full(resp, "form_data").await;
    disk.assert_empty("a refused form upload");

    // Room again: the store takes what fits.
    let small = bytes(MIB, 3);
    app.put("/full/small.bin", &small).await;
    assert_eq!(app.get_bytes("/full/small.bin").await.1, small);
    assert_eq!(app.get_bytes("/full/big.bin").await.0, 404);
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> Response {
    app.client
        .request(method, app.api(path))
        .bearer_auth(&app.secret)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A part PUT that fills the disk gives back what it wrote at once (the
/// session stays, the other parts can come), and aborting frees the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_part_on_a_full_disk() {
    let Some(disk) = Tmpfs::mount(6) else { return };
    let app = app_on(&disk).await;
    let data = bytes(12 * MIB, 4);
    let resp = api(
        &app,
        reqwest::Method::POST,
        "/uploads",
        json!({"size": data.len(), "protocol": "1.1", "path": "/full/mp.bin"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let started: Value = resp.json().await.unwrap();
    let id = started["uploadId"].as_str().unwrap();
    let first = &started["uploadParts"]["first"];
    let resp = app
        .client
        .put(first["uploadUrl"].as_str().unwrap())
        .body(data[..8 * MIB].to_vec())
        .send()
        .await
        .unwrap();
    assert_full(resp, "multipart part 0").await;
    disk.assert_empty("a refused part");

    // The second part (4 MiB) fits now that the first gave its blocks back.
    let second = crate::multipart::part(&app, id, 1).await;
    crate::multipart::put_bytes(&app, &second, &data).await;
    assert!(disk.used() >= 4 * MIB as u64);
    let resp = api(
        &app,
        reqwest::Method::DELETE,
        &format!("/uploads/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(resp.status(), 204);
    disk.assert_empty("an aborted upload");
}

/// A tus PATCH that fills the disk: nothing of it is kept and the upload
/// continues from its committed offset once there is room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tus_patch_on_a_full_disk() {
    let Some(disk) = Tmpfs::mount(4) else { return };
    let app = app_on(&disk).await;
    let data = bytes(6 * MIB, 5);
    let resp = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", data.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let url = resp.headers()["location"].to_str().unwrap().to_string();
    let patch = |offset: usize, body: Vec<u8>| {
        app.client
            .patch(&url)
            .bearer_auth(&app.secret)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(body)
            .send()
    };
    assert_full(patch(0, data.clone()).await.unwrap(), "tus PATCH").await;
    disk.assert_empty("a refused PATCH");
    let resp = patch(0, data[..MIB].to_vec()).await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["upload-offset"], MIB.to_string().as_str());
}
