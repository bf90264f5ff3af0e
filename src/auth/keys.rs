//! API keys: `secret_<account><24 base58>` / `public_<account><24 base58>`.
//! Only the SHA-256 is stored, with a masked display form.

use rand::Rng;
use sha2::{Digest, Sha256};

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Secret,
    Public,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Secret => "secret",
            KeyType::Public => "public",
        }
    }
    pub fn parse(s: &str) -> Option<KeyType> {
        match s {
            "secret" => Some(KeyType::Secret),
            "public" => Some(KeyType::Public),
            _ => None,
        }
    }
}

/// `n` random base58 characters.
pub fn random_base58(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| BASE58[rng.gen_range(0..BASE58.len())] as char)
        .collect()
}

pub fn is_base58(s: &str) -> bool {
    // The alphabet is the ASCII letters and digits but 0, O, I and l (a
    // range test per byte, not a scan of the alphabet: this runs on every
    // request with a key).
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'))
}

/// A fresh account id: 7 base58 characters.
pub fn new_account_id() -> String {
    random_base58(7)
}

/// A fresh key for `account`.
pub fn generate(kind: KeyType, account: &str) -> String {
    format!("{}_{}{}", kind.name(), account, random_base58(24))
}

/// The SHA-256 of a key, in lowercase hex (as stored). Encoded into a
/// buffer: `hex::encode` collects `char`s one by one, which cost a key
/// request more than the digest itself.
pub fn hash(key: &str) -> String {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(key.as_bytes()), &mut buf).expect("64 hex digits");
    String::from_utf8(buf.to_vec()).expect("hex is ASCII")
}

/// `secret_A623uY2…x9Qz`
pub fn display(key: &str) -> String {
    let (head, tail) = key.split_at(key.len().saturating_sub(4));
    let head: String = head.chars().take(14).collect();
    format!("{head}…{tail}")
}

/// Splits a well-formed key into its type and account; None when the text is
/// not shaped like a stowage key.
pub fn parse(key: &str) -> Option<(KeyType, &str)> {
    let (kind, rest) = key.split_once('_')?;
    let kind = KeyType::parse(kind)?;
    if rest.len() != 31 || !is_base58(rest) {
        return None;
    }
    Some((kind, &rest[..7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_the_stored_hex_digest() {
        // What every stored key_hash was written with.
        assert_eq!(
            hash("secret_abc"),
            hex::encode(Sha256::digest(b"secret_abc"))
        );
        assert_eq!(
            hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn generated_keys_parse_back() {
        let acc = new_account_id();
        let key = generate(KeyType::Secret, &acc);
        assert_eq!(parse(&key), Some((KeyType::Secret, acc.as_str())));
        let shown = display(&key);
        assert!(shown.starts_with(&format!("secret_{acc}")));
        assert!(shown.ends_with(&key[key.len() - 4..]));
        assert!(!shown.contains(&key[14..key.len() - 4]));
    }

    #[test]
    fn base58_is_exactly_the_alphabet() {
        for b in 0u8..=255 {
            let s = [b];
            let as_str = std::str::from_utf8(&s).unwrap_or("_");
            assert_eq!(is_base58(as_str), BASE58.contains(&b), "byte {b}");
        }
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        assert_eq!(parse("secret_short"), None);
        assert_eq!(parse("other_A623uY2aaaaaaaaaaaaaaaaaaaaaaaa"), None);
        assert_eq!(parse("secret_A623uY20OIl000000000000000000"), None);
    }
}
