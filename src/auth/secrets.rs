//! Secrets the server must be able to read back (signing-key secrets), sealed
//! with AES-256-GCM under the master key's secrets subkey
//! ([`Keyring::secrets`]). Secrets sealed under the master key itself (before
//! subkeys) stay readable and are re-sealed at start ([`reseal_legacy`]).

use super::keyring::Keyring;
use crate::error::{AppError, AppResult};
use crate::meta::MetaStore;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

/// Seals a signing-key secret.
pub fn seal(keys: &Keyring, plaintext: &str) -> String {
    seal_with(keys.secrets(), plaintext)
}

/// Opens a signing-key secret sealed under the secrets subkey, or under the
/// master key itself (sealed before subkeys, not re-sealed yet).
pub fn open(keys: &Keyring, sealed: &str) -> AppResult<String> {
    open_with(keys.secrets(), sealed).or_else(|_| {
        open_with(keys.master(), sealed).map_err(|_| {
            AppError::internal("a signing key cannot be decrypted: was STOWAGE_SECRET_KEY changed?")
        })
    })
}

/// Whether `sealed` is sealed under the secrets subkey (nothing to re-seal).
pub fn is_current(keys: &Keyring, sealed: &str) -> bool {
    open_with(keys.secrets(), sealed).is_ok()
}

/// AES-256-GCM: hex(nonce ‖ ciphertext ‖ tag) with a random 96-bit nonce.
pub(crate) fn seal_with(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; 12] = rand::random();
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
        .expect("AES-GCM encryption does not fail");
    let mut out = nonce.to_vec();
    out.extend(ct);
    hex::encode(out)
}

pub(crate) fn open_with(key: &[u8; 32], sealed: &str) -> AppResult<String> {
    let bytes = hex::decode(sealed).map_err(AppError::internal)?;
    if bytes.len() < 12 {
        return Err(AppError::internal("sealed secret too short"));
    }
    let (nonce, ct) = bytes.split_at(12);
    let plain = Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), ct)
        .map_err(|_| AppError::internal("a sealed secret cannot be decrypted with this key"))?;
    String::from_utf8(plain).map_err(AppError::internal)
}

/// Re-seals under the secrets subkey every signing-key secret still sealed
/// under the master key itself; returns how many. Each row is replaced only
/// if unchanged meanwhile, so nodes starting together do not clash. A secret
/// that opens with neither key is left as it is (and logged).
pub async fn reseal_legacy(meta: &dyn MetaStore, keys: &Keyring) -> AppResult<usize> {
    let mut done = 0;
    for (kid, sealed) in meta.signing_key_secrets().await? {
        if is_current(keys, &sealed) {
            continue;
        }
        let Ok(plain) = open_with(keys.master(), &sealed) else {
            tracing::warn!(signing_key = %kid, "signing key sealed under another master key");
            continue;
        };
        if meta
            .replace_signing_key_secret(&kid, &sealed, &seal(keys, &plain))
            .await?
        {
            done += 1;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let keys = Keyring::new([1; 32]);
        let sealed = seal(&keys, "sk_secret");
        assert!(!sealed.contains("sk_secret"));
        assert_eq!(open(&keys, &sealed).unwrap(), "sk_secret");
        assert!(is_current(&keys, &sealed));
        assert!(open(&Keyring::new([2; 32]), &sealed).is_err());
        // Sealed under the subkey, not the master key itself.
        assert!(open_with(&[1; 32], &sealed).is_err());
    }

    #[test]
    fn secrets_sealed_under_the_master_key_still_open() {
        let keys = Keyring::new([1; 32]);
        let legacy = seal_with(keys.master(), "sk_old");
        assert_eq!(open(&keys, &legacy).unwrap(), "sk_old");
        assert!(!is_current(&keys, &legacy));
        assert!(open(&Keyring::new([2; 32]), &legacy).is_err());
    }
}
