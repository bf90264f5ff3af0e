//! The `stowage` binary itself: serve (bootstrap, SIGTERM), and the admin commands.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn stowage(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stowage"));
    c.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("STOWAGE_STORAGE_URL")
        .env_remove("STOWAGE_SECRET_KEY")
        .env("RUST_LOG", "info");
    c
}

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = stowage(dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn admin_commands_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, _) = run(d, &["migrate"]);
    assert!(ok && out.contains("sqlite"), "{out}");
    assert!(
        d.join("data/stowage.db").exists(),
        "SQLite file under ./data"
    );
    let (ok, acc, _) = run(d, &["accounts", "create", "--sandbox"]);
    assert!(ok);
    let acc = acc.trim().to_string();
    assert_eq!(acc.len(), 7);
    let (_, list, _) = run(d, &["accounts", "list"]);
    assert_eq!(list.trim(), format!("{acc}\tsandbox"));
    let limits = [
        "accounts",
        "limits",
        "--account",
        &acc,
        "--max-file-size",
        "1000",
        "--allowed-mime",
        "image/*",
    ];
    let (ok, out, err) = run(d, &limits);
    assert!(ok, "{err}");
    assert!(
        out.contains("1000 bytes") && out.contains("image/*"),
        "{out}"
    );
    let quotas = [
        "accounts",
        "limits",
        "--account",
        &acc,
        "--max-storage-bytes",
        "5000",
        "--max-files",
        "3",
    ];
    let (ok, out, err) = run(d, &quotas);
    assert!(ok, "{err}");
    assert!(
        out.contains("max storage 5000 bytes, max files 3") && out.contains("server default"),
        "{out}"
    );
    let (ok, out, err) = run(d, &["accounts", "usage", "--account", &acc, "--recount"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        format!("{acc}: files 0, versions 0, bytes 0, stored bytes 0")
    );
    let (ok, _, err) = run(d, &["accounts", "usage", "--account", "nope123"]);
    assert!(!ok && err.contains("no account"), "{err}");

    let (ok, key, err) = run(
        d,
        &[
            "keys",
            "create",
            "--account",
            &acc,
            "--type",
            "public",
            "--rule",
            "/x/*:read,create",
            "--rule",
            "/y/*/**:read",
        ],
    );
    assert!(ok, "{err}");
    assert!(key.trim().starts_with(&format!("public_{acc}")));
    let (_, keys, _) = run(d, &["keys", "list", "--account", &acc]);
    assert!(
        keys.contains("public") && keys.contains('…') && keys.contains("/y/*/**"),
        "{keys}"
    );
    assert!(!keys.contains(key.trim()), "plaintext in a listing");
    let id = keys.split('\t').next().unwrap().to_string();
    let (ok, _, _) = run(d, &["keys", "revoke", "--account", &acc, &id]);
    assert!(ok);
    let (ok, _, err) = run(d, &["keys", "revoke", "--account", &acc, &id]);
    assert!(!ok && err.contains("no live key"), "{err}");
    let (ok, _, err) = run(
        d,
        &[
            "keys",
            "create",
            "--account",
            &acc,
            "--type",
            "public",
            "--rule",
            "/x:fly",
        ],
    );
    assert!(!ok && err.contains("unknown operation"), "{err}");
    let (ok, _, err) = run(
        d,
        &["keys", "create", "--account", "nope123", "--type", "secret"],
    );
    assert!(!ok && err.contains("no account"), "{err}");

    let (ok, out, err) = run(
        d,
        &["folders", "set", "--account", &acc, "/priv", "private"],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["settings"]["publicPermissions"], serde_json::json!([]));
    let (ok, out, _) = run(
        d,
        &[
            "folders",
            "set",
            "--account",
            &acc,
            "/lim",
            "limited",
            "--slugs",
            "thumbnail,small",
        ],
    );
    assert!(ok);
    assert!(out.contains("thumbnail") && out.contains("small"), "{out}");
    let (_, out, _) = run(d, &["folders", "show", "--account", &acc, "/priv/sub"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["settingsInherited"]["publicPermissions"]["folderPath"],
        "/priv"
    );

    let pem = d.join("pub.pem");
    let gen = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .output()
        .unwrap();
    let mut child = Command::new("openssl")
        .args(["pkey", "-pubout", "-out"])
        .arg(&pem)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &gen.stdout).unwrap();
    child.wait().unwrap();
    let (ok, kid, err) = run(
        d,
        &[
            "jwt-keys",
            "add",
            "--account",
            &acc,
            "--pem",
            pem.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("ES256"));
    let (_, list, _) = run(d, &["jwt-keys", "list", "--account", &acc]);
    assert!(list.starts_with(kid.trim()), "{list}");
}

#[test]
fn serve_bootstraps_once_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = stowage(dir.path())
            .args(["serve"])
            .env("STOWAGE_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The listening log line names the bound address.
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut addr = None;
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains("stowage listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                addr = Some(v["fields"]["listen"].as_str().unwrap().to_string());
                break;
            }
        }
        (child, addr.expect("no listening line"))
    };
    let (mut child, addr) = start();
    let health = http_get(&format!("http://{addr}/healthz"));
    assert_eq!(health, r#"{"status":"ok"}"#);
    let ready = http_get(&format!("http://{addr}/readyz"));
    assert!(ready.contains("\"database\":\"sqlite\""), "{ready}");
    term(&mut child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "SIGTERM exit: {:?}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("secret key: secret_") && stdout.contains("public key: public_"),
        "{stdout}"
    );
    assert!(dir.path().join("data/secret_key").exists());

    // A second start finds the account and prints no keys.
    let (mut child, _) = start();
    term(&mut child);
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret key"));
}

fn term(child: &mut std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A blocking GET on a throwaway runtime (the test itself is synchronous).
fn http_get(url: &str) -> String {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}

#[test]
fn webhooks_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, acc, _) = run(d, &["accounts", "create"]);
    let acc = acc.trim().to_string();
    let add = |url: &str, events: &str| {
        let args = [
            "webhooks",
            "add",
            "--account",
            &acc,
            url,
            "--events",
            events,
        ];
        run(d, &args)
    };
    // The address rules and the event names are checked.
    let (ok, _, err) = add("http://127.0.0.1:9/hook", "*");
    assert!(!ok && err.contains("127.0.0.1"), "{err}");
    let (ok, _, err) = add("https://hooks.example.com/a", "file.made");
    assert!(
        !ok && err.contains("file.made") && err.contains("file.created"),
        "{err}"
    );
    let (ok, out, err) = add("https://hooks.example.com/a", "file.created,file.deleted");
    assert!(ok, "{err}");
    let id = out
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("webhookId:")
        .trim();
    assert!(out.contains("secret:    whsec_"), "{out}");
    let (ok, list, _) = run(d, &["webhooks", "list", "--account", &acc]);
    assert!(ok);
    assert!(
        list.starts_with(&format!("{id}\thttps://hooks.example.com/a\t")),
        "{list}"
    );
    assert!(list.contains(r#"["file.created","file.deleted"]"#) && !list.contains("whsec_"));
    let (ok, _, _) = run(d, &["webhooks", "delete", "--account", &acc, id]);
    assert!(ok);
    let (ok, _, err) = run(d, &["webhooks", "delete", "--account", &acc, id]);
    assert!(!ok && err.contains(id), "{err}");
    let (_, list, _) = run(d, &["webhooks", "list", "--account", &acc]);
    assert_eq!(list, "");
}
