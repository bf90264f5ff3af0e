//! Signed URLs (SPEC §2): `?exp=<unix s>&sig=<hex>`, HMAC-SHA256 with the
//! server's master key over the method, the path and the expiry.

use crate::error::{AppError, AppResult, CredentialError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(master: &[u8; 32], scope: &str, path: &str, exp: i64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(master).expect("any key length works");
    m.update(scope.as_bytes());
    m.update(b"\n");
    m.update(path.as_bytes());
    m.update(b"\n");
    m.update(exp.to_string().as_bytes());
    m
}

/// The query string (`exp=…&sig=…`) that authorizes `scope` on `path` until `exp`.
pub fn query(master: &[u8; 32], scope: &str, path: &str, exp: i64) -> String {
    let sig = hex::encode(mac(master, scope, path, exp).finalize().into_bytes());
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
    master: &[u8; 32],
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
    mac(master, scope, path, exp)
        .verify_slice(&bytes)
        .map_err(|_| bad_signature())?;
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

    #[test]
    fn signatures_bind_scope_path_and_expiry() {
        let k = [7u8; 32];
        let q = query(&k, "part", "/a", 100);
        let sig = q.split("sig=").nth(1).unwrap();
        let at = |exp| UrlSignature {
            exp: Some(exp),
            sig: Some(sig),
        };
        assert!(verify(&k, "part", "/a", at(100), 50).is_ok());
        assert_eq!(
            verify(&k, "part", "/b", at(100), 50).unwrap_err().code(),
            "invalid_signature"
        );
        assert!(verify(&k, "get", "/a", at(100), 50).is_err());
        assert!(verify(&k, "part", "/a", at(101), 50).is_err());
        assert!(verify(&[8u8; 32], "part", "/a", at(100), 50).is_err());
        assert_eq!(
            verify(&k, "part", "/a", at(100), 101).unwrap_err().code(),
            "url_expired"
        );
        let unsigned = UrlSignature {
            exp: None,
            sig: Some(sig),
        };
        assert!(verify(&k, "part", "/a", unsigned, 50).is_err());
    }
}
