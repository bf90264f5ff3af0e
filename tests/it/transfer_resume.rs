//! Issue #29 / SPEC §13: `stowage import` resumes after an interruption.
//! The real binary imports a tree of many files and gets SIGINT in the
//! middle (Ctrl-C): it starts no new file, finishes the ones in progress,
//! prints a true summary and says how to resume. Run again, every file is
//! then present exactly once (one file, one version) with its bytes, and the
//! second run's summary skips what the first one had committed.

use crate::both;
use crate::common::{Backend, TestApp};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const FILES: usize = 600;

/// `FILES` files of 8 to 40 KiB in 10 folders, each different; (relative path, bytes).
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for i in 0..FILES {
        let len = 8 * 1024 + (i * 53) % (32 * 1024);
        let bytes: Vec<u8> = (0..len)
            .map(|j| ((j as u32).wrapping_mul(31).wrapping_add(i as u32 * 7919) >> 3) as u8)
            .collect();
        let rel = format!("d{}/f{i:04}.bin", i % 10);
        let p = root.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &bytes).unwrap();
        files.insert(rel, bytes);
    }
    files
}

fn import_command(app: &TestApp, source: &str, cwd: &Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_stowage"));
    c.current_dir(cwd)
        .env_remove("STOWAGE_SECRET_KEY")
        .env_remove("STOWAGE_CONFIG")
        .env("RUST_LOG", "warn")
        .args(["import", source, "--account", &app.account, "--to", "/x"])
        .args(["--concurrency", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in app.cli_env() {
        c.env(k, v);
    }
    c
}

async fn files_stored(app: &TestApp) -> i64 {
    let row = app.state.meta.usage_row(&app.account).await.unwrap();
    row.map_or(0, |r| r.files)
}

/// Runs the import until some files are in, then sends SIGINT (Ctrl-C):
/// the run starts no new file, finishes those in progress and says so.
/// Returns how many files were committed when it stopped.
async fn interrupted_import(app: &TestApp, source: &str, cwd: &Path) -> i64 {
    let child = import_command(app, source, cwd).spawn().unwrap();
    let pid = child.id().unwrap();
    let started = Instant::now();
    while files_stored(app).await < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the import never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("SIGINT stops the import")
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted: "), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let done = files_stored(app).await;
    assert!(done < FILES as i64, "stopped mid-way: {done}");
    let (copied, skipped, failed) = summary(&stdout);
    assert_eq!(
        (copied as i64, skipped, failed),
        (done, 0, 0),
        "the files in progress were finished and counted: {stdout}"
    );
    let staged = app.state.meta.gc_due(i64::MAX, 1000).await.unwrap();
    assert!(staged.is_empty(), "nothing left half-staged: {staged:?}");
    done
}

/// `(imported, skipped, failed)` of a summary line.
fn summary(out: &str) -> (usize, usize, usize) {
    let line = out
        .lines()
        .find(|l| l.starts_with("imported "))
        .unwrap_or_else(|| panic!("no summary: {out}"));
    let number = |after: &str| -> usize {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().unwrap()
    };
    (number("imported "), number("skipped "), number("failed "))
}

async fn import_resumes_after_sigint(b: Backend) {
    let app = TestApp::spawn(b).await;
    let src = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let files = tree(src.path());
    let source = src.path().display().to_string();
    let before = interrupted_import(&app, &source, cwd.path()).await;

    let out = import_command(&app, &source, cwd.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let (copied, skipped, failed) = summary(&stdout);
    assert_eq!(failed, 0, "{stdout}");
    assert!(skipped > 0, "{stdout}");
    assert!(skipped as i64 >= before, "{before} were in: {stdout}");
    assert_eq!(copied + skipped, FILES, "{stdout}");

    // Every file exactly once: one file and one version each, right bytes.
    let usage = app
        .state
        .meta
        .usage_row(&app.account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((usage.files, usage.versions), (FILES as i64, FILES as i64));
    for (rel, bytes) in &files {
        let path = format!("/x/{rel}");
        let row = app.state.meta.get_file(&app.account, &path).await.unwrap();
        let row = row.unwrap_or_else(|| panic!("{path} missing"));
        let got = app.state.blobs.get_bytes(&row.blob_key).await.unwrap();
        assert!(got.as_ref() == bytes.as_slice(), "{path}: bytes differ");
    }
    // A third run has nothing left to do.
    let again = import_command(&app, &source, cwd.path())
        .output()
        .await
        .unwrap();
    let (copied, skipped, _) = summary(&String::from_utf8_lossy(&again.stdout));
    assert_eq!((copied, skipped), (0, FILES));
}
both!(import_resumes_after_sigint);
