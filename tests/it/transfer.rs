//! `stowage import` and `stowage export` (SPEC §13), run as the real binary
//! on the database and store of an in-process app: relative paths kept,
//! bytes exact, duplicates shared, resume by size and SHA-256, the
//! manifest, failures in the summary with exit status 1, bad input refused.

use crate::both;
use crate::common::{sha256_hex, Backend, TestApp};
use std::collections::BTreeMap;
use std::path::Path;

struct Run {
    ok: bool,
    code: Option<i32>,
    out: String,
    err: String,
}

async fn stowage(app: &TestApp, extra: &[(&str, &str)], args: &[&str]) -> Run {
    let cwd = tempfile::tempdir().unwrap();
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_stowage"));
    c.current_dir(cwd.path())
        .env_remove("STOWAGE_SECRET_KEY")
        .env_remove("STOWAGE_CONFIG")
        .env("RUST_LOG", "warn")
        .args(args);
    for (k, v) in app.cli_env() {
        c.env(k, v);
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().await.unwrap();
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn import(app: &TestApp, source: &str, to: &str) -> Run {
    let acc = app.account.clone();
    stowage(app, &[], &["import", source, "--account", &acc, "--to", to]).await
}

async fn export(app: &TestApp, folder: &str, dest: &Path) -> Run {
    let acc = app.account.clone();
    let dest = dest.display().to_string();
    let args = [
        "export",
        "--account",
        &acc,
        folder,
        &dest,
        "--concurrency",
        "3",
    ];
    stowage(app, &[], &args).await
}

/// A tree with nested folders, a duplicate, an empty file and a name with a
/// space and non-ASCII letters; (relative path, bytes).
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let files: BTreeMap<String, Vec<u8>> = [
        ("a/x.txt", b"hello\n".to_vec()),
        ("a/b/dup.txt", b"hello\n".to_vec()),
        ("a/b/spa ce é.txt", "ünïcode\n".as_bytes().to_vec()),
        ("empty", Vec::new()),
        ("deep/c/d/e.bin", big),
    ]
    .into_iter()
    .map(|(p, b)| (p.to_string(), b))
    .collect();
    for (rel, bytes) in &files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    files
}

/// The stored bytes of `path`, read from the object store.
async fn stored(app: &TestApp, path: &str) -> (stowage::meta::FileRow, Vec<u8>) {
    let row = app.state.meta.get_file(&app.account, path).await.unwrap();
    let row = row.unwrap_or_else(|| panic!("{path} not stored"));
    let bytes = app.state.blobs.get_bytes(&row.blob_key).await.unwrap();
    (row, bytes.to_vec())
}

both!(import_then_export);
async fn import_then_export(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let src = tempfile::tempdir().unwrap();
    let files = tree(src.path());
    let source = src.path().display().to_string();

    // A dry run says what would be imported and stores nothing.
    let acc = app.account.clone();
    let dry = [
        "import",
        &source,
        "--account",
        &acc,
        "--to",
        "/imp",
        "--dry-run",
    ];
    let run = stowage(&app, &[], &dry).await;
    assert!(run.ok, "{} {}", run.out, run.err);
    assert!(
        run.out.contains("would import (dry run) 5 file(s)"),
        "{}",
        run.out
    );
    assert_eq!(app.get_bytes("/imp/a/x.txt").await.0, 404, "nothing stored");

    let run = import(&app, &source, "/imp").await;
    assert!(run.ok, "{} {}", run.out, run.err);
    assert!(run.out.contains("imported 5 file(s)"), "{}", run.out);
    assert!(run.out.contains("skipped 0") && run.out.contains("failed 0"));
    // Not a terminal: plain progress lines, the last one complete.
    assert!(run.err.contains("import: 5/5 files"), "{}", run.err);
    for (rel, bytes) in &files {
        let (row, got) = stored(&app, &format!("/imp/{rel}")).await;
        assert_eq!(&got, bytes, "{rel}");
        assert_eq!(row.size as usize, bytes.len());
        assert_eq!(row.etag, sha256_hex(bytes));
    }
    // Deduplicated like any upload: one blob for the two equal files.
    let (x, _) = stored(&app, "/imp/a/x.txt").await;
    let (dup, _) = stored(&app, "/imp/a/b/dup.txt").await;
    assert_eq!(x.blob_key, dup.blob_key);
    assert_eq!(x.mime, "text/plain");
    // Served too, under the name with a space and accents.
    let (status, body) = app.get_bytes("/imp/a/b/spa%20ce%20%C3%A9.txt").await;
    assert_eq!(
        (status.as_u16(), body),
        (200, files["a/b/spa ce é.txt"].clone())
    );

    // Again: everything is already there.
    let run = import(&app, &source, "/imp").await;
    assert!(run.ok, "{}", run.err);
    assert!(run.out.contains("imported 0 file(s)"), "{}", run.out);
    assert!(run.out.contains("skipped 5"), "{}", run.out);
    let versions = app.state.meta.list_versions(&app.account, "/imp/a/x.txt");
    assert_eq!(versions.await.unwrap().len(), 1, "a skip adds no version");

    // A file changed in place (same size, other bytes) is imported again.
    std::fs::write(src.path().join("a/x.txt"), b"HELLO\n").unwrap();
    let run = import(&app, &source, "/imp").await;
    assert!(run.ok, "{}", run.err);
    assert!(run.out.contains("imported 1 file(s)"), "{}", run.out);
    assert!(run.out.contains("skipped 4"), "{}", run.out);
    assert_eq!(stored(&app, "/imp/a/x.txt").await.1, b"HELLO\n");

    export_checks(&app, &files).await;
}

async fn export_checks(app: &TestApp, files: &BTreeMap<String, Vec<u8>>) {
    let mut files = files.clone();
    files.insert("a/x.txt".into(), b"HELLO\n".to_vec());
    // One file with metadata and tags, uploaded over HTTP.
    let resp = app
        .client
        .post(app.api("/uploads/binary"))
        .query(&[("filePath", "/imp/tagged.json")])
        .bearer_auth(&app.secret)
        .header("content-type", "application/json")
        .header("x-upload-metadata", r#"{"userId": 42}"#)
        .header("x-upload-tags", "one, two")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    files.insert("tagged.json".into(), b"{}".to_vec());
    app.put("/elsewhere.txt", b"not exported").await;

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("dest");
    let run = export(app, "/imp", &dest).await;
    assert!(run.ok, "{} {}", run.out, run.err);
    assert!(run.out.contains("exported 6 file(s)"), "{}", run.out);
    for (rel, bytes) in &files {
        assert_eq!(&std::fs::read(dest.join(rel)).unwrap(), bytes, "{rel}");
    }
    assert!(!dest.join("elsewhere.txt").exists());
    let manifest = std::fs::read_to_string(dest.join("manifest.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, files.keys().map(String::as_str).collect::<Vec<_>>());
    for line in &lines {
        let bytes = &files[line["path"].as_str().unwrap()];
        assert_eq!(line["sha256"], sha256_hex(bytes), "{line}");
        assert_eq!(line["size"], bytes.len(), "{line}");
    }
    let tagged = lines.iter().find(|l| l["path"] == "tagged.json").unwrap();
    assert_eq!(tagged["mime"], "application/json");
    assert_eq!(tagged["metadata"], serde_json::json!({"userId": 42}));
    assert_eq!(tagged["tags"], serde_json::json!(["one", "two"]));
    let current = app.state.meta.get_file(&app.account, "/imp/tagged.json");
    let current = current.await.unwrap().unwrap();
    assert_eq!(tagged["versionId"], current.version_id.as_str());
    assert_eq!(lines[0]["mime"], "text/plain", "{}", lines[0]);

    // Again: skipped, after hashing each local file; one changed locally
    // (same size) is written again.
    std::fs::write(dest.join("a/b/dup.txt"), b"jello\n").unwrap();
    let run = export(app, "/imp", &dest).await;
    assert!(run.ok, "{}", run.err);
    assert!(run.out.contains("exported 1 file(s)"), "{}", run.out);
    assert!(run.out.contains("skipped 5"), "{}", run.out);
    assert_eq!(std::fs::read(dest.join("a/b/dup.txt")).unwrap(), b"hello\n");
    let again = std::fs::read_to_string(dest.join("manifest.jsonl")).unwrap();
    assert_eq!(again, manifest, "the same manifest");
    let leftovers: Vec<_> = walk(&dest)
        .into_iter()
        .filter(|p| p.contains("stowage-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

both!(failures_and_bad_input);
async fn failures_and_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("small.txt"), b"small").unwrap();
    std::fs::write(src.path().join("big.bin"), vec![7u8; 2000]).unwrap();
    std::fs::write(src.path().join("back\\slash.txt"), b"bs").unwrap();
    let source = src.path().display().to_string();
    let acc = app.account.clone();
    let args = ["import", &source, "--account", &acc, "--to", "/f"];
    let run = stowage(&app, &[("STOWAGE_MAX_FILE_SIZE", "1000")], &args).await;
    assert_eq!(run.code, Some(1), "{} {}", run.out, run.err);
    assert!(run.out.contains("imported 1 file(s)"), "{}", run.out);
    assert!(run.out.contains("failed 2"), "{}", run.out);
    assert!(
        run.out
            .contains("failed /f/big.bin: The file is 2000 bytes; the limit is 1000 bytes."),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("failed /f/back\\slash.txt: Invalid path"),
        "{}",
        run.out
    );
    assert!(run.err.contains("2 file(s) failed"), "{}", run.err);
    assert_eq!(stored(&app, "/f/small.txt").await.1, b"small");
    let big = app.state.meta.get_file(&app.account, "/f/big.bin").await;
    assert!(big.unwrap().is_none());

    let missing = src.path().join("nope").display().to_string();
    let run = import(&app, &missing, "/f").await;
    assert!(
        !run.ok && run.err.contains("cannot open the source"),
        "{}",
        run.err
    );
    assert!(run.err.contains("No such file"), "{}", run.err);
    let args = ["import", &source, "--account", "nope123", "--to", "/f"];
    let run = stowage(&app, &[], &args).await;
    assert!(
        !run.ok && run.err.contains("no account nope123"),
        "{}",
        run.err
    );
    let run = import(&app, &source, "relative").await;
    assert!(
        !run.ok && run.err.contains("must start with '/'"),
        "{}",
        run.err
    );
    let run = import(&app, &source, "/a/../b").await;
    assert!(!run.ok && run.err.contains("'..'"), "{}", run.err);
    let dest = src.path().join("small.txt");
    let run = export(&app, "/f", &dest).await;
    assert!(!run.ok && run.err.contains("Cannot create"), "{}", run.err);
    let run = export(&app, "/nothing/here", &src.path().join("out")).await;
    assert!(
        !run.ok && run.err.contains("Folder /nothing/here"),
        "{}",
        run.err
    );
    assert!(!src.path().join("out").exists(), "nothing created");
    let args = ["export", "--account", "nope123", "/f", "/tmp/x"];
    let run = stowage(&app, &[], &args).await;
    assert!(
        !run.ok && run.err.contains("no account nope123"),
        "{}",
        run.err
    );
}

/// `file://` sources, and an object store prefix when the tests run on S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_from_urls() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let src = tempfile::tempdir().unwrap();
    let files = tree(src.path());
    let url = format!("file://{}", src.path().display());
    let run = import(&app, &url, "/url").await;
    assert!(run.ok, "{} {}", run.out, run.err);
    assert!(run.out.contains("imported 5 file(s)"), "{}", run.out);
    for (rel, bytes) in &files {
        assert_eq!(&stored(&app, &format!("/url/{rel}")).await.1, bytes);
    }
    let storage = std::env::var("STOWAGE_TEST_STORAGE_URL").unwrap_or_default();
    if !storage.starts_with("s3://") {
        eprintln!("notice: STOWAGE_TEST_STORAGE_URL is not s3://; the S3 import is skipped");
        return;
    }
    // Objects under a prefix of the same bucket, read back through an
    // s3:// URL with the prefix as its path.
    let prefix = format!("import-{}", uuid::Uuid::new_v4().simple());
    let store = stowage::blobs::Blobs::from_url(&storage).unwrap();
    for (rel, bytes) in &files {
        let key = format!("{prefix}/{rel}");
        store.put_bytes(&key, bytes.clone().into()).await.unwrap();
    }
    let mut s3 = url::Url::parse(&storage).unwrap();
    s3.set_path(&format!("/{prefix}"));
    let run = import(&app, s3.as_str(), "/s3").await;
    assert!(run.ok, "{} {}", run.out, run.err);
    assert!(run.out.contains("imported 5 file(s)"), "{}", run.out);
    for (rel, bytes) in &files {
        assert_eq!(&stored(&app, &format!("/s3/{rel}")).await.1, bytes);
    }
    let run = import(&app, s3.as_str(), "/s3").await;
    assert!(run.out.contains("skipped 5"), "{}", run.out);
    for rel in files.keys() {
        store.delete(&format!("{prefix}/{rel}")).await.unwrap();
    }
}

/// An operator's import is not held to `STOWAGE_RATE_UPLOADS` (a client
/// limit): 12 files with a limit of 3 a minute all arrive.
async fn import_ignores_the_upload_rate_limit(b: Backend) {
    let app = TestApp::spawn(b).await;
    let src = tempfile::tempdir().unwrap();
    for i in 0..12 {
        std::fs::write(src.path().join(format!("f{i}.txt")), format!("file {i}")).unwrap();
    }
    let acc = app.account.clone();
    let source = src.path().display().to_string();
    let run = stowage(
        &app,
        &[("STOWAGE_RATE_UPLOADS", "3")],
        &["import", &source, "--account", &acc, "--to", "/rated"],
    )
    .await;
    assert!(run.ok, "{}\n{}", run.out, run.err);
    assert!(run.out.contains("imported 12 file(s)"), "{}", run.out);
    for i in [0, 11] {
        let got = app
            .client
            .get(app.raw(&format!("/rated/f{i}.txt")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.text().await.unwrap(), format!("file {i}"));
    }
}
both!(import_ignores_the_upload_rate_limit);
