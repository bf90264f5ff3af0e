//! RFC 9530 integrity fields: `Content-Digest` / `Repr-Digest` on uploads
//! (checked while the bytes stream) and `Repr-Digest` / `Want-Repr-Digest` on
//! downloads. The fields are RFC 9651 Dictionaries parsed with `sfv`:
//! `sha-256=:<base64>:, sha-512=:<base64>:`.
//!
//! Any upload protocol can use this: parse the request's fields with
//! [`Expected::from_fields`], feed the bytes to a [`Digester`] (or hand the
//! `Expected` to `StagedBlob::stream_verified`, which does it), and call
//! [`Digester::verify`] before making anything visible.

use crate::error::{AppError, AppResult};
use base64::Engine;
use sha2::{Digest as _, Sha256, Sha512};

/// A digest algorithm stowage can check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The RFC 9530 registry name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha-256",
            Algorithm::Sha512 => "sha-512",
        }
    }

    fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha-256" => Some(Algorithm::Sha256),
            "sha-512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// The digests a client declared for the bytes it sends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expected {
    pub digests: Vec<(Algorithm, Vec<u8>)>,
}

impl Expected {
    /// The digests in the request's `Content-Digest` and `Repr-Digest` field
    /// values (None when neither is present). Stowage applies no content coding
    /// to uploads, so both describe the same bytes and every known digest in
    /// either must match. Unknown algorithms are ignored when a known one is
    /// present; only unknown ones → 400 suggesting `sha-256`.
    pub fn from_fields(
        content_digest: Option<&str>,
        repr_digest: Option<&str>,
    ) -> AppResult<Option<Expected>> {
        let mut digests = Vec::new();
        let mut unknown = Vec::new();
        let mut any = false;
        for (field, value) in [
            ("Content-Digest", content_digest),
            ("Repr-Digest", repr_digest),
        ] {
            let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            any = true;
            parse_field(field, value, &mut digests, &mut unknown)?;
        }
        if !any {
            return Ok(None);
        }
        if digests.is_empty() {
            return Err(AppError::invalid_request(
                format!(
                    "No supported digest algorithm in Content-Digest/Repr-Digest (got {}).",
                    unknown.join(", ")
                ),
                "Send sha-256 (or sha-512), e.g. Content-Digest: sha-256=:<base64 of the SHA-256>:.",
            ));
        }
        Ok(Some(Expected { digests }))
    }

    fn wants(&self, alg: Algorithm) -> bool {
        self.digests.iter().any(|(a, _)| *a == alg)
    }
}

fn parse_field(
    field: &str,
    value: &str,
    digests: &mut Vec<(Algorithm, Vec<u8>)>,
    unknown: &mut Vec<String>,
) -> AppResult<()> {
    let malformed = |why: &str| {
        AppError::invalid_request(
            format!("The {field} header is not a valid digest field: {why}."),
            "Send e.g. sha-256=:<base64 of the SHA-256>: (RFC 9530).",
        )
    };
    let dict: sfv::Dictionary = sfv::Parser::new(value)
        .parse()
        .map_err(|e| malformed(&e.to_string()))?;
    for (key, entry) in &dict {
        let Some(alg) = Algorithm::from_name(key.as_str()) else {
            unknown.push(key.as_str().to_string());
            continue;
        };
        let bytes = match entry {
            sfv::ListEntry::Item(item) => item.bare_item.as_byte_sequence(),
            sfv::ListEntry::InnerList(_) => None,
        }
        .ok_or_else(|| malformed(&format!("{} is not a byte sequence (:base64:)", alg.name())))?;
        if bytes.len() != alg.len() {
            return Err(malformed(&format!(
                "a {} digest is {} bytes, not {}",
                alg.name(),
                alg.len(),
                bytes.len()
            )));
        }
        digests.push((alg, bytes.to_vec()));
    }
    Ok(())
}

/// Hashes bytes as they stream: SHA-256 always (it names the content), SHA-512
/// only when the client declared one.
pub struct Digester {
    sha256: Sha256,
    sha512: Option<Sha512>,
    expected: Option<Expected>,
}

/// The digests of what streamed through a [`Digester`].
pub struct Computed {
    pub sha256: [u8; 32],
    pub sha512: Option<Vec<u8>>,
}

impl Digester {
    pub fn new(expected: Option<Expected>) -> Digester {
        let sha512 = expected
            .as_ref()
            .filter(|e| e.wants(Algorithm::Sha512))
            .map(|_| Sha512::new());
        Digester {
            sha256: Sha256::new(),
            sha512,
            expected,
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        if let Some(h) = &mut self.sha512 {
            h.update(chunk);
        }
    }

    /// The digests, or the first declared one that does not match.
    pub fn verify(self) -> Result<Computed, Mismatch> {
        let computed = Computed {
            sha256: self.sha256.finalize().into(),
            sha512: self.sha512.map(|h| h.finalize().to_vec()),
        };
        for (alg, want) in self.expected.iter().flat_map(|e| &e.digests) {
            let got: &[u8] = match alg {
                Algorithm::Sha256 => &computed.sha256,
                Algorithm::Sha512 => computed.sha512.as_deref().unwrap_or_default(),
            };
            if got != want.as_slice() {
                return Err(Mismatch {
                    algorithm: alg.name(),
                    expected: b64(want),
                    actual: b64(got),
                });
            }
        }
        Ok(computed)
    }
}

/// A declared digest that the bytes did not match (base64 values).
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub algorithm: &'static str,
    pub expected: String,
    pub actual: String,
}

impl From<Mismatch> for AppError {
    fn from(m: Mismatch) -> AppError {
        AppError::DigestMismatch {
            algorithm: m.algorithm,
            expected: m.expected,
            actual: m.actual,
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `sha-256=:<base64>:` for a lower-case hex SHA-256, if it is one.
pub fn repr_digest_from_hex(hex_sha256: &str) -> Option<String> {
    let bytes = hex::decode(hex_sha256).ok().filter(|b| b.len() == 32)?;
    Some(format!("sha-256=:{}:", b64(&bytes)))
}

/// Whether a `Want-Repr-Digest` field still lets us send SHA-256 (RFC 9530
/// §4): only an explicit `sha-256=0` ("not acceptable") refuses it. A request
/// that prefers only sha-512, which is not kept, still gets sha-256: the
/// field is a preference, and SHA-256 is the digest stored for every file.
pub fn sha256_wanted(want: Option<&str>) -> bool {
    let Some(want) = want else { return true };
    let Ok(dict) = sfv::Parser::new(want).parse::<sfv::Dictionary>() else {
        return true;
    };
    match dict.get("sha-256") {
        Some(sfv::ListEntry::Item(item)) => item.bare_item.as_integer() != Some(0.into()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(alg: &str, bytes: &[u8]) -> String {
        format!("{alg}=:{}:", b64(bytes))
    }

    #[test]
    fn parses_and_verifies() {
        let data = b"hello world";
        let s256 = Sha256::digest(data);
        let s512 = Sha512::digest(data);
        let both = format!(
            "{}, {}, md5=:AAAA:",
            field("sha-256", &s256),
            field("sha-512", &s512)
        );
        let e = Expected::from_fields(Some(&both), None).unwrap().unwrap();
        assert_eq!(e.digests.len(), 2);
        let mut d = Digester::new(Some(e.clone()));
        d.update(b"hello ");
        d.update(b"world");
        assert!(d.verify().is_ok());
        let mut d = Digester::new(Some(e));
        d.update(b"hello there");
        let m = d.verify().err().unwrap();
        assert_eq!(m.algorithm, "sha-256");
        assert_eq!(m.expected, b64(&s256));
    }

    #[test]
    fn sha512_mismatch_is_caught() {
        let wrong = [7u8; 64];
        let e = Expected::from_fields(None, Some(&field("sha-512", &wrong)))
            .unwrap()
            .unwrap();
        let mut d = Digester::new(Some(e));
        d.update(b"abc");
        let m = d.verify().err().unwrap();
        assert_eq!(m.algorithm, "sha-512");
        assert_eq!(m.actual, b64(&Sha512::digest(b"abc")));
    }

    #[test]
    fn refuses_bad_fields() {
        assert!(Expected::from_fields(None, None).unwrap().is_none());
        for bad in [
            "sha-256=abc",
            "sha-256=:AAAA:",
            "sha-256=\"x\"",
            "md5=:AAAA:",
            "sha-256=:not base64!:",
            "=",
        ] {
            let err = Expected::from_fields(Some(bad), None).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn want_repr_digest() {
        assert!(sha256_wanted(None));
        assert!(sha256_wanted(Some("sha-512=3")));
        assert!(sha256_wanted(Some("sha-256=1, sha-512=3")));
        assert!(!sha256_wanted(Some("sha-256=0, sha-512=3")));
        assert!(sha256_wanted(Some("garbage ((")));
        let hex = hex::encode(Sha256::digest(b""));
        assert_eq!(
            repr_digest_from_hex(&hex).unwrap(),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
        assert!(repr_digest_from_hex("etag-not-hex").is_none());
    }
}
