//! `stowage rotate-secret-key`: a new master key, and every signing-key
//! secret re-sealed under it in one transaction.

use super::*;

/// What [`rotate`] did.
#[derive(Debug)]
pub struct Rotation {
    /// Signing keys whose secret is now sealed under the new key.
    pub resealed: usize,
    /// The new key, hex, when the operator must install it (the old key was
    /// configured, so stowage cannot store the new one itself).
    pub new_key_hex: Option<String>,
    /// The key file now holding the new key (data-directory keys).
    pub key_file: Option<PathBuf>,
}

/// Rotates the master key. The old key is the configured one (`configured`, i.e.
/// `STOWAGE_SECRET_KEY`) or the one in `<data_dir>/secret_key`; the new key is
/// `new_key` (validated) or a generated one. Every signing-key secret is
/// re-sealed in one transaction (a secret already sealed under the new key is
/// left as it is, so an interrupted rotation can be run again). With a
/// data-directory key the new key replaces the file; with a configured key it
/// is returned for the operator to set on every node. Signed URLs made with the
/// old key (download links, part upload URLs) stop working.
pub async fn rotate(
    configured: &str,
    data_dir: &Path,
    database_url: &str,
    new_key: Option<&str>,
) -> Result<Rotation, String> {
    let given = new_key.map(validate).transpose()?;
    if !configured.trim().is_empty() {
        let old = validate(configured)?;
        let new = given.unwrap_or_else(generate);
        if new == old {
            return Err("the new key is the current key".into());
        }
        let resealed = reseal_signing_keys(database_url, &old, &new).await?;
        return Ok(Rotation {
            resealed,
            new_key_hex: given.is_none().then(|| hex::encode(new)),
            key_file: None,
        });
    }
    let path = data_dir.join(KEY_FILE);
    let pending = data_dir.join(PENDING_FILE);
    let old = read_key_file(&path)?.ok_or_else(|| {
        format!(
            "no master key to rotate: STOWAGE_SECRET_KEY is not set and {} does not exist \
             (set STOWAGE_DATA_DIR to the directory `stowage serve` uses)",
            path.display()
        )
    })?;
    // Resume an interrupted rotation with the key it had chosen.
    let new = match (read_key_file(&pending)?, given) {
        (Some(p), Some(g)) if p != g => {
            return Err(format!(
                "{} holds the new key of an unfinished rotation; run again without --new-key to finish it",
                pending.display()
            ))
        }
        (Some(p), _) => p,
        (None, g) => {
            let new = g.unwrap_or_else(generate);
            if new == old {
                return Err("the new key is the current key".into());
            }
            publish_new(&pending, &new)
                .map_err(|e| format!("cannot write {}: {e}", pending.display()))?;
            new
        }
    };
    let resealed = reseal_signing_keys(database_url, &old, &new).await?;
    replace(&path, &new).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::remove_file(&pending)
        .map_err(|e| format!("cannot remove {}: {e}", pending.display()))?;
    Ok(Rotation {
        resealed,
        new_key_hex: None,
        key_file: Some(path),
    })
}

/// The new sealed value of one signing-key secret (under `new`'s secrets
/// subkey), or `None` when it is already sealed so.
fn reseal_one(
    kid: &str,
    sealed: &str,
    old: &Keyring,
    new: &Keyring,
) -> Result<Option<String>, String> {
    if secrets::is_current(new, sealed) {
        return Ok(None);
    }
    // Under the old key (its subkey, or the key itself before subkeys), or
    // under the new key itself (a rotation by a version before subkeys that
    // did not finish).
    match secrets::open(old, sealed).or_else(|_| secrets::open(new, sealed)) {
        Ok(plain) => Ok(Some(secrets::seal(new, &plain))),
        Err(_) => Err(format!(
            "signing key {kid} cannot be opened with the current master key: \
             is STOWAGE_SECRET_KEY (or the data directory) the one the server uses? \
             Nothing was changed"
        )),
    }
}

/// Re-seals every signing-key secret from `old` to `new` in one transaction
/// (all or nothing). Returns how many signing keys there are.
pub async fn reseal_signing_keys(
    database_url: &str,
    old: &[u8; 32],
    new: &[u8; 32],
) -> Result<usize, String> {
    use crate::meta::KeyringStore;
    let (old, new) = (Keyring::new(*old), Keyring::new(*new));
    let reseal = move |kid: &str, sealed: &str| reseal_one(kid, sealed, &old, &new);
    if database_url.starts_with("sqlite:") {
        let meta = crate::meta::SqliteMeta::connect(database_url).await?;
        meta.reseal_signing_keys(&reseal).await
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        let meta = crate::meta::PgMeta::connect(database_url, None).await?;
        meta.reseal_signing_keys(&reseal).await
    } else {
        Err("DATABASE_URL must start with sqlite:// or postgres://".into())
    }
}
