//! The master key (`STOWAGE_SECRET_KEY`, SPEC §9): it signs every signed URL
//! (download links, part upload URLs) and seals signing-key secrets.
//!
//! - [`resolve`]: the configured key when there is one, else the key kept in
//!   `<data dir>/secret_key`, generated there on first start (any database).
//! - [`validate`]: 64 hex characters (32 bytes), not one repeated byte, not a
//!   documented example ([`EXAMPLE_KEYS`]), at least [`MIN_DISTINCT_BYTES`]
//!   distinct bytes.
//! - Signing and sealing use subkeys derived from it (`auth/keyring.rs`).
//! - [`rotate`]: re-seals every signing-key secret under a new key in one
//!   transaction, then stores the new key (data-directory keys) or hands it back
//!   to the operator (configured keys). Links signed with the old key stop working.

use crate::auth::keyring::Keyring;
use crate::auth::secrets;
use rand::RngCore;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the generated key inside the data directory.
pub const KEY_FILE: &str = "secret_key";
/// Written before a rotation touches the database; renamed over [`KEY_FILE`] once
/// every secret is re-sealed. Its presence means a rotation did not finish.
pub const PENDING_FILE: &str = "secret_key.new";

/// Keys that appear in documentation (ours and the S3 server's) or are common
/// placeholders: anyone can read them, so none may be a master key. Every
/// 64-hex-character string in README.md, docs/, config/, docker-compose.yml and
/// .env.example must be listed here (a unit test checks).
pub const EXAMPLE_KEYS: &[&str] = &[
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
    "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    // Garage's quick-start rpc_secret.
    "1799bccfd7411eddcf9ebd316bc1f5287ad12a68094e1c6ac6abde7e6feae1ec",
    // Garage's example secret key in its client docs.
    "7d37d093435a41f2aab8f13c19ba067d9776c90215f56614adad6ece597dbb34",
    // docker-compose.yml: the S3 server's internal RPC secret (loopback only).
    "5f0d3c8e2a714b6e9c1f7a3d8b2e6c4a9f1d7b3e5c8a2f6d4b9e1c7a3f5d8b2e",
];

/// Fewest distinct byte values a key may have. 32 random bytes have about 30
/// (fewer than 16 happens with probability below 10⁻²⁰); keys under it are
/// patterns, counters or typed by hand (`00…01`, `0102…0f` twice).
pub const MIN_DISTINCT_BYTES: usize = 16;

/// Where the key in use came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `STOWAGE_SECRET_KEY` or `secret_key` in the configuration file.
    Configured,
    /// Read from `<data dir>/secret_key`.
    DataDir,
    /// Generated now into `<data dir>/secret_key` (first start).
    Generated,
}

#[derive(Clone, Debug)]
pub struct MasterKey {
    pub bytes: [u8; 32],
    pub source: KeySource,
    /// The key file, for the data-directory sources.
    pub path: Option<PathBuf>,
}

impl MasterKey {
    /// The lines to print once, when the key was just generated.
    pub fn notice(&self) -> Option<String> {
        if self.source != KeySource::Generated {
            return None;
        }
        let path = self.path.as_deref().unwrap_or(Path::new(KEY_FILE));
        Some(format!(
            "Generated the master key into {} (mode 0600). It signs every signed URL and \
             seals signing-key secrets: back it up with the database. A deployment with \
             several nodes must set the same STOWAGE_SECRET_KEY on each node (for example \
             the contents of that file); nodes with different keys reject each other's links.",
            path.display()
        ))
    }
}

/// Decodes and checks a master key: 64 hex characters (32 bytes), not one
/// repeated byte, not a documented example, at least [`MIN_DISTINCT_BYTES`]
/// distinct bytes.
pub fn validate(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let fix = "generate one with `openssl rand -hex 32`, or unset STOWAGE_SECRET_KEY \
               to have stowage generate and keep one in its data directory";
    let bytes = hex::decode(text).map_err(|_| {
        format!(
            "STOWAGE_SECRET_KEY must be 64 hex characters (32 bytes), got {} characters \
             that are not all hex: {fix}",
            text.len()
        )
    })?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "STOWAGE_SECRET_KEY must be 64 hex characters (32 bytes), got {} bytes: {fix}",
            bytes.len()
        )
    })?;
    if key.iter().all(|b| *b == key[0]) {
        return Err(format!(
            "STOWAGE_SECRET_KEY is one byte ({:02x}) repeated: anyone could guess it; {fix}",
            key[0]
        ));
    }
    let lower = text.to_ascii_lowercase();
    if EXAMPLE_KEYS.contains(&lower.as_str()) {
        return Err(format!(
            "STOWAGE_SECRET_KEY is an example key from published documentation: \
             anyone could know it; {fix}"
        ));
    }
    let distinct = key
        .iter()
        .fold([false; 256], |mut seen, b| {
            seen[usize::from(*b)] = true;
            seen
        })
        .iter()
        .filter(|s| **s)
        .count();
    if distinct < MIN_DISTINCT_BYTES {
        return Err(format!(
            "STOWAGE_SECRET_KEY has only {distinct} distinct bytes of 32 (a random key has \
             about 30, never fewer than {MIN_DISTINCT_BYTES} in practice): it looks made by \
             hand or from a pattern, and could be guessed; {fix}"
        ));
    }
    Ok(key)
}

/// A fresh key from the operating system's CSPRNG.
pub fn generate() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// The master key to use: `configured` (the `secret_key` setting, i.e.
/// `STOWAGE_SECRET_KEY`) when it is not empty, else `<data_dir>/secret_key`,
/// generated on first start. Invalid keys are refused with a message naming the fix.
pub fn resolve(configured: &str, data_dir: &Path) -> Result<MasterKey, String> {
    if !configured.trim().is_empty() {
        return Ok(MasterKey {
            bytes: validate(configured)?,
            source: KeySource::Configured,
            path: None,
        });
    }
    let path = data_dir.join(KEY_FILE);
    if data_dir.join(PENDING_FILE).exists() {
        return Err(format!(
            "{} exists: a key rotation did not finish; run `stowage rotate-secret-key` \
             again to complete it",
            data_dir.join(PENDING_FILE).display()
        ));
    }
    if let Some(bytes) = read_key_file(&path)? {
        return Ok(MasterKey {
            bytes,
            source: KeySource::DataDir,
            path: Some(path),
        });
    }
    std::fs::create_dir_all(data_dir).map_err(|e| {
        format!(
            "cannot create the data directory {}: {e} (set STOWAGE_DATA_DIR or STOWAGE_SECRET_KEY)",
            data_dir.display()
        )
    })?;
    let key = generate();
    match publish_new(&path, &key) {
        Ok(()) => Ok(MasterKey {
            bytes: key,
            source: KeySource::Generated,
            path: Some(path),
        }),
        // Another process (a second node on the same volume, a CLI command) won
        // the race: use its key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = read_key_file(&path)?
                .ok_or_else(|| format!("{} vanished while starting", path.display()))?;
            Ok(MasterKey {
                bytes,
                source: KeySource::DataDir,
                path: Some(path),
            })
        }
        Err(e) => Err(format!("cannot write {}: {e}", path.display())),
    }
}

/// Reads and validates a key file; `None` when it does not exist.
fn read_key_file(path: &Path) -> Result<Option<[u8; 32]>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => validate(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes `key` (hex, newline) to a 0600 temporary file in the same directory,
/// flushed to disk, then publishes it at `path` without replacing an existing
/// file (a hard link is atomic and fails with `AlreadyExists`). Readers never see
/// a partial key.
fn publish_new(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let tmp = write_temp(path, key)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(path);
    Ok(())
}

/// Writes `key` to a 0600 temporary file then renames it over `path`.
fn replace(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let tmp = write_temp(path, key)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path);
    Ok(())
}

fn write_temp(path: &Path, key: &[u8; 32]) -> std::io::Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(format!("{}\n", hex::encode(key)).as_bytes())?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
}

mod rotate;
pub use rotate::{reseal_signing_keys, rotate, Rotation};

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_start_generates_and_persists_0600_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = resolve("", &data).unwrap();
        assert_eq!(first.source, KeySource::Generated);
        let path = data.join(KEY_FILE);
        assert_eq!(first.path.as_deref(), Some(path.as_path()));
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", hex::encode(first.bytes)));
        let notice = first.notice().unwrap();
        assert!(notice.contains("several nodes") && notice.contains("STOWAGE_SECRET_KEY"));
        assert!(
            !notice.contains(&hex::encode(first.bytes)),
            "never print the key"
        );
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(&data).unwrap().count(), 1);

        let second = resolve("", &data).unwrap();
        assert_eq!(second.source, KeySource::DataDir);
        assert_eq!(second.bytes, first.bytes);
        assert!(second.notice().is_none(), "the notice is printed once");
    }

    #[test]
    fn configured_key_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let generated = resolve("", dir.path()).unwrap();
        let mine = hex::encode(generate());
        let k = resolve(&format!(" {mine}\n"), dir.path()).unwrap();
        assert_eq!(k.source, KeySource::Configured);
        assert_eq!(hex::encode(k.bytes), mine);
        assert_ne!(k.bytes, generated.bytes);
        assert!(k.notice().is_none());
        // A configured key needs no data directory at all.
        let k = resolve(&mine, &dir.path().join("missing/deeper")).unwrap();
        assert_eq!(hex::encode(k.bytes), mine);
        assert!(!dir.path().join("missing").exists());
    }

    #[test]
    fn bad_keys_are_refused_with_clear_messages() {
        let zeros = "0".repeat(64);
        let e = validate(&zeros).unwrap_err();
        assert!(e.contains("one byte (00) repeated"), "{e}");
        let e = validate(&"a".repeat(64)).unwrap_err();
        assert!(e.contains("one byte (aa) repeated"), "{e}");
        let e = validate(&"ab".repeat(16)).unwrap_err();
        assert!(
            e.contains("64 hex characters") && e.contains("got 16 bytes"),
            "{e}"
        );
        let e = validate("not-hex").unwrap_err();
        assert!(e.contains("not all hex"), "{e}");
        for example in EXAMPLE_KEYS {
            let e = validate(example).unwrap_err();
            assert!(e.contains("example key"), "{e}");
            let e = validate(&example.to_ascii_uppercase()).unwrap_err();
            assert!(e.contains("example key"), "{e}");
        }
        for e in [
            resolve(&zeros, Path::new("/nonexistent")).unwrap_err(),
            validate("").unwrap_err(),
        ] {
            assert!(e.contains("openssl rand -hex 32"), "{e}");
        }
        assert!(validate(&hex::encode(generate())).is_ok());
    }

    #[test]
    fn low_entropy_keys_are_refused() {
        let one = format!("{}01", "0".repeat(62));
        let e = validate(&one).unwrap_err();
        assert!(
            e.contains("only 2 distinct bytes")
                && e.contains("openssl rand -hex 32")
                && e.contains("STOWAGE_SECRET_KEY"),
            "{e}"
        );
        // The threshold: 16 distinct bytes pass, 15 do not (a pattern with more
        // passes too; the check catches the cheapest guesses, not every one).
        let counter: Vec<u8> = (0u8..16).chain(0u8..16).collect();
        assert!(validate(&hex::encode(&counter)).is_ok());
        let fifteen: Vec<u8> = (0u8..15).cycle().take(32).collect();
        let e = validate(&hex::encode(&fifteen)).unwrap_err();
        assert!(e.contains("only 15 distinct bytes"), "{e}");
        // The refusal reaches start: a configured key is checked by resolve.
        let e = resolve(&one, Path::new("/nonexistent")).unwrap_err();
        assert!(e.contains("distinct bytes"), "{e}");
        // Generated keys never trip it.
        for _ in 0..1000 {
            assert!(validate(&hex::encode(generate())).is_ok());
        }
    }

    #[test]
    fn a_bad_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "0".repeat(64)).unwrap();
        let e = resolve("", dir.path()).unwrap_err();
        assert!(e.contains(KEY_FILE) && e.contains("repeated"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "0".repeat(64)
        );
    }

    #[test]
    fn a_second_writer_never_replaces_the_first_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        publish_new(&path, &[1; 32]).unwrap();
        let e = publish_new(&path, &[2; 32]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(read_key_file(&path).unwrap_err().contains("repeated"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Every 64-hex-character string in the documentation and deployment files
    /// is refused as a master key.
    #[test]
    fn every_documented_key_is_refused() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![
            root.join("README.md"),
            root.join("docker-compose.yml"),
            root.join(".env.example"),
            root.join("config/stowage.toml"),
        ];
        for entry in std::fs::read_dir(root.join("docs")).unwrap() {
            files.push(entry.unwrap().path());
        }
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let bytes = text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    i += 1;
                }
                if i - start == 64 {
                    let key = &text[start..i];
                    assert!(
                        validate(key).is_err(),
                        "{} shows {key}: add it to EXAMPLE_KEYS",
                        file.display()
                    );
                }
                i += 1;
            }
        }
    }

    async fn sqlite_with_signing_keys(dir: &Path, master: &[u8; 32]) -> String {
        let url = format!("sqlite://{}", dir.join("db.sqlite").display());
        let meta = crate::meta::connect(&url).await.unwrap();
        let account = crate::domain::keys::create_account(meta.as_ref(), false)
            .await
            .unwrap();
        for name in ["a", "b"] {
            crate::domain::keys::create_signing_key(
                meta.as_ref(),
                &Keyring::new(*master),
                &account.id,
                name,
            )
            .await
            .unwrap();
        }
        url
    }

    async fn secrets_open_with(url: &str, key: &[u8; 32]) -> bool {
        use crate::meta::KeyringStore;
        let meta = crate::meta::SqliteMeta::connect(url).await.unwrap();
        let rows = meta.signing_key_secrets().await.unwrap();
        assert_eq!(rows.len(), 2);
        rows.iter()
            .all(|(_, s)| secrets::is_current(&Keyring::new(*key), s))
    }

    #[tokio::test]
    async fn rotating_a_data_dir_key_reseals_and_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = resolve("", dir.path()).unwrap();
        let url = sqlite_with_signing_keys(dir.path(), &old.bytes).await;

        let r = rotate("", dir.path(), &url, None).await.unwrap();
        assert_eq!(r.resealed, 2);
        assert!(r.new_key_hex.is_none());
        let new = resolve("", dir.path()).unwrap();
        assert_eq!(new.source, KeySource::DataDir);
        assert_ne!(new.bytes, old.bytes);
        assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
        assert!(!dir.path().join(PENDING_FILE).exists());
        assert!(secrets_open_with(&url, &new.bytes).await);
        assert!(!secrets_open_with(&url, &old.bytes).await);
    }

    #[tokio::test]
    async fn an_interrupted_rotation_blocks_start_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let old = resolve("", dir.path()).unwrap();
        let url = sqlite_with_signing_keys(dir.path(), &old.bytes).await;
        // As if the process died after the database commit, before the rename.
        let new = generate();
        publish_new(&dir.path().join(PENDING_FILE), &new).unwrap();
        reseal_signing_keys(&url, &old.bytes, &new).await.unwrap();
        let e = resolve("", dir.path()).unwrap_err();
        assert!(e.contains("rotate-secret-key"), "{e}");

        let r = rotate("", dir.path(), &url, None).await.unwrap();
        assert_eq!(r.resealed, 2);
        assert_eq!(resolve("", dir.path()).unwrap().bytes, new);
        assert!(secrets_open_with(&url, &new).await);
    }

    #[tokio::test]
    async fn rotating_a_configured_key_returns_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let old = generate();
        let url = sqlite_with_signing_keys(dir.path(), &old).await;
        let old_hex = hex::encode(old);

        // A wrong current key changes nothing.
        let e = rotate(&hex::encode(generate()), dir.path(), &url, None)
            .await
            .unwrap_err();
        assert!(e.contains("cannot be opened"), "{e}");
        assert!(secrets_open_with(&url, &old).await);
        // An example key is refused as the new key.
        let e = rotate(&old_hex, dir.path(), &url, Some(EXAMPLE_KEYS[0]))
            .await
            .unwrap_err();
        assert!(e.contains("example key"), "{e}");

        let given = hex::encode(generate());
        let r = rotate(&old_hex, dir.path(), &url, Some(&given))
            .await
            .unwrap();
        assert_eq!(r.resealed, 2);
        assert!(r.new_key_hex.is_none(), "the operator chose it");
        let given_bytes = validate(&given).unwrap();
        assert!(secrets_open_with(&url, &given_bytes).await);

        let r = rotate(&given, dir.path(), &url, None).await.unwrap();
        let generated = validate(r.new_key_hex.as_deref().unwrap()).unwrap();
        assert!(secrets_open_with(&url, &generated).await);
        assert!(!dir.path().join(KEY_FILE).exists());
    }
}
