//! The master key (`STOWAGE_SECRET_KEY`) and one subkey per purpose derived
//! from it with HKDF-SHA256, so that no key serves two algorithms:
//!
//! | subkey | algorithm | signs or seals |
//! |---|---|---|
//! | [`Keyring::urls`] | HMAC-SHA256 | signed URLs: download links, part upload URLs |
//! | [`Keyring::secrets`] | AES-256-GCM | signing-key secrets in the database |
//! | [`Keyring::sessions`] | AES-256-GCM | dashboard session cookies |
//!
//! The master key itself only feeds HKDF, and reads what versions before the
//! subkeys made with it (docs/decisions.md, "Subkeys of the master key"): URLs
//! that expire by [`Keyring::legacy_urls_until`], and signing-key secrets until
//! they are re-sealed (at start, [`super::secrets::reseal_legacy`]).

use hkdf::Hkdf;
use sha2::Sha256;
use std::sync::atomic::{AtomicI64, Ordering};

/// HKDF salt: names the scheme, so a later one can derive other keys.
const SALT: &[u8] = b"stowage master key subkeys v1";
const URLS: &[u8] = b"stowage/signed-urls";
const SECRETS: &[u8] = b"stowage/signing-key-secrets";
const SESSIONS: &[u8] = b"stowage/dashboard-sessions";

pub struct Keyring {
    master: [u8; 32],
    urls: [u8; 32],
    secrets: [u8; 32],
    sessions: [u8; 32],
    /// Unix seconds; see [`Keyring::legacy_urls_until`].
    legacy_urls_until: AtomicI64,
}

impl Keyring {
    pub fn new(master: [u8; 32]) -> Keyring {
        let hk = Hkdf::<Sha256>::new(Some(SALT), &master);
        let derive = |info: &[u8]| {
            let mut out = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit of 255 × 32.
            let _ = hk.expand(info, &mut out);
            out
        };
        Keyring {
            master,
            urls: derive(URLS),
            secrets: derive(SECRETS),
            sessions: derive(SESSIONS),
            legacy_urls_until: AtomicI64::new(0),
        }
    }

    /// The master key itself: to start another node of the deployment or to
    /// rotate; never a signing or sealing key of its own.
    pub fn master(&self) -> &[u8; 32] {
        &self.master
    }

    /// HMAC-SHA256 key of signed URLs.
    pub(crate) fn urls(&self) -> &[u8; 32] {
        &self.urls
    }

    /// AES-256-GCM key of signing-key secrets.
    pub(crate) fn secrets(&self) -> &[u8; 32] {
        &self.secrets
    }

    /// AES-256-GCM key of dashboard session cookies.
    pub(crate) fn sessions(&self) -> &[u8; 32] {
        &self.sessions
    }

    /// A URL signed with the master key itself (by a version before subkeys)
    /// is accepted only when its `exp` is at most this (unix seconds): the
    /// moment subkeys came into use plus the longest URL lifetime. 0 (none
    /// accepted) until the server has read that moment at start.
    pub fn legacy_urls_until(&self) -> i64 {
        self.legacy_urls_until.load(Ordering::Relaxed)
    }

    pub fn accept_legacy_urls_until(&self, unix_secs: i64) {
        self.legacy_urls_until.store(unix_secs, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned against an independent HKDF-SHA256 (RFC 5869) computation:
    /// `PRK = HMAC(salt, master)`, `key = HMAC(PRK, info || 0x01)` (Python's
    /// `hmac`), so existing links and secrets stay readable across releases.
    #[test]
    fn subkeys_are_hkdf_sha256_and_distinct() {
        let master: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        let k = Keyring::new(master);
        assert_eq!(
            hex::encode(k.urls()),
            "ad7120e43c9414d2ef5fee91c612746b13580a4cae9b4d96e4e8219b3818a8f8"
        );
        assert_eq!(
            hex::encode(k.secrets()),
            "650bbfe212185dad3ed34057fb8e093e9aba82e9699614ad2e54bff86138475d"
        );
        assert_eq!(
            hex::encode(k.sessions()),
            "9aab5866498e97b4e330726284647e11500ca14bb8d9f3e384238314bce811d4"
        );
        assert_eq!(k.master(), &master);
        let all = [k.master(), k.urls(), k.secrets(), k.sessions()];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(Keyring::new([2; 32]).urls(), k.urls());
        assert_eq!(k.legacy_urls_until(), 0);
        k.accept_legacy_urls_until(99);
        assert_eq!(k.legacy_urls_until(), 99);
    }
}
