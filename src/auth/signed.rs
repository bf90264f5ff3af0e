//! Signed URLs (SPEC §2): `?exp=<unix s>&sig=<hex>`, HMAC-SHA256 with the
//! URL subkey of the master key ([`Keyring::urls`]) over the scope, the path
//! and the expiry. A URL signed with the master key itself (before subkeys)
//! is accepted while it can only have been made before them
//! ([`Keyring::legacy_urls_until`]).

use super::keyring::Keyring;
use crate::error::{AppError, AppResult, CredentialError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8; 32], scope: &str, path: &str, exp: i64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("any key length works");
    m.update(scope.as_bytes());
    m.update(b"\n");
    m.update(path.as_bytes());
    m.update(b"\n");
    m.update(exp.to_string().as_bytes());
    m
}

/// The query string (`exp=…&sig=…`) that authorizes `scope` on `path` until `exp`.
pub fn query(keys: &Keyring, scope: &str, path: &str, exp: i64) -> String {
    let sig = hex::encode(mac(keys.urls(), scope, path, exp).finalize().into_bytes());
    format!("exp={exp}&sig={sig}")
}

/// The `exp` and `sig` query parameters of a request.
#[derive(Clone, Copy, Debug, Default)]
pub struct UrlSignature<'a> {
    pub exp: Option<i64>,
    pub sig: Option<&'a str>,
}

/// Checks a signature (constant time) and its expiry.
pub fn verify(
    keys: &Keyring,
    scope: &str,
    path: &str,
    given: UrlSignature,
    now: i64,
) -> AppResult<()> {
    let (Some(exp), Some(sig)) = (given.exp, given.sig) else {
        return Err(AppError::bad_credentials(
            CredentialError::InvalidSignature,
            "This URL needs its exp and sig parameters.",
            "Use the URL exactly as the server returned it.",
        ));
    };
    let bytes = hex::decode(sig).map_err(|_| bad_signature())?;
    let current = mac(keys.urls(), scope, path, exp).verify_slice(&bytes);
    if current.is_err() {
        if exp > keys.legacy_urls_until() {
            return Err(bad_signature());
        }
        mac(keys.master(), scope, path, exp)
            .verify_slice(&bytes)
            .map_err(|_| bad_signature())?;
    }
    if exp < now {
        return Err(AppError::bad_credentials(
            CredentialError::UrlExpired,
            "This signed URL has expired.",
            "Ask the server for a new URL.",
        ));
    }
    Ok(())
}

fn bad_signature() -> AppError {
    AppError::bad_credentials(
        CredentialError::InvalidSignature,
        "The URL's signature does not match.",
        "Use the URL exactly as the server returned it; it is valid for one path only.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig_of(q: &str) -> String {
        q.split("sig=").nth(1).unwrap().to_string()
    }

    #[test]
    fn signatures_bind_scope_path_and_expiry() {
        let k = Keyring::new([7u8; 32]);
        let q = query(&k, "part", "/a", 100);
        let sig = sig_of(&q);
        let at = |exp| UrlSignature {
            exp: Some(exp),
            sig: Some(&sig),
        };
        assert!(verify(&k, "part", "/a", at(100), 50).is_ok());
        assert_eq!(
            verify(&k, "part", "/b", at(100), 50).unwrap_err().code(),
            "invalid_signature"
        );
        assert!(verify(&k, "get", "/a", at(100), 50).is_err());
        assert!(verify(&k, "part", "/a", at(101), 50).is_err());
        assert!(verify(&Keyring::new([8u8; 32]), "part", "/a", at(100), 50).is_err());
        assert_eq!(
            verify(&k, "part", "/a", at(100), 101).unwrap_err().code(),
            "url_expired"
        );
        let unsigned = UrlSignature {
            exp: None,
            sig: Some(&sig),
        };
        assert!(verify(&k, "part", "/a", unsigned, 50).is_err());
    }

    /// URLs are signed with the URL subkey, not the master key; a URL signed
    /// with the master key (before subkeys) passes only while it expires by
    /// `legacy_urls_until`.
    #[test]
    fn the_master_key_signs_nothing_new_and_old_urls_pass_until_the_cutoff() {
        let master = [7u8; 32];
        let k = Keyring::new(master);
        let legacy = |exp: i64| {
            let m = mac(&master, "download", "/a", exp);
            hex::encode(m.finalize().into_bytes())
        };
        assert_ne!(sig_of(&query(&k, "download", "/a", 100)), legacy(100));
        let check = |exp: i64, sig: &str| {
            let given = UrlSignature {
                exp: Some(exp),
                sig: Some(sig),
            };
            verify(&k, "download", "/a", given, 50).map_err(|e| e.code())
        };
        // Before the server has read when subkeys began: none accepted.
        assert_eq!(check(100, &legacy(100)), Err("invalid_signature"));
        k.accept_legacy_urls_until(1000);
        assert_eq!(check(100, &legacy(100)), Ok(()));
        assert_eq!(check(1000, &legacy(1000)), Ok(()));
        assert_eq!(check(1001, &legacy(1001)), Err("invalid_signature"));
        // Still bound to scope and path.
        let given = UrlSignature {
            exp: Some(100),
            sig: Some(&legacy(100)),
        };
        assert!(verify(&k, "part", "/a", given, 50).is_err());
        assert!(verify(&k, "download", "/b", given, 50).is_err());
        // Expired legacy URLs are still expired.
        assert_eq!(
            verify(&k, "download", "/a", given, 101).map_err(|e| e.code()),
            Err("url_expired")
        );
    }
}
