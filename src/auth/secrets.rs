//! Secrets the server must be able to read back (signing-key secrets), sealed
//! with AES-256-GCM under the master key (`STOWAGE_SECRET_KEY`).

use crate::error::{AppError, AppResult};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

pub fn seal(master: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new(master.into());
    let nonce: [u8; 12] = rand::random();
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
        .expect("AES-GCM encryption does not fail");
    let mut out = nonce.to_vec();
    out.extend(ct);
    hex::encode(out)
}

pub fn open(master: &[u8; 32], sealed: &str) -> AppResult<String> {
    let bytes = hex::decode(sealed).map_err(AppError::internal)?;
    if bytes.len() < 12 {
        return Err(AppError::internal("sealed secret too short"));
    }
    let (nonce, ct) = bytes.split_at(12);
    let plain = Aes256Gcm::new(master.into())
        .decrypt(Nonce::from_slice(nonce), ct)
        .map_err(|_| {
            AppError::internal("a signing key cannot be decrypted: was STOWAGE_SECRET_KEY changed?")
        })?;
    String::from_utf8(plain).map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_wrong_key() {
        let sealed = super::seal(&[1; 32], "sk_secret");
        assert!(!sealed.contains("sk_secret"));
        assert_eq!(super::open(&[1; 32], &sealed).unwrap(), "sk_secret");
        assert!(super::open(&[2; 32], &sealed).is_err());
    }
}
