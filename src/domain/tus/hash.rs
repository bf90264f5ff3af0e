//! A SHA-256 whose state can be saved between requests: a tus upload's bytes
//! arrive over many PATCHes, possibly on different nodes, and the file's ETag
//! is the SHA-256 of all of them. The state (sha2 0.11's serialized hasher:
//! 8 words, the block count and the < 64 buffered bytes) is stored in the
//! upload's row as hex; hashing itself is sha2's (SHA extensions where present).

use crate::error::{AppError, AppResult};
use sha2_resumable::digest::common::hazmat::{SerializableState, SerializedState};
use sha2_resumable::{Digest, Sha256};

#[derive(Clone, Debug, Default)]
pub struct ResumableSha256(Sha256);

impl ResumableSha256 {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Lower-case hex digest of everything so far.
    pub fn finish_hex(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }

    /// The hasher's serialized state, as hex.
    pub fn save(&self) -> String {
        hex::encode(self.0.serialize())
    }

    pub fn load(saved: &str) -> AppResult<ResumableSha256> {
        let bad = || AppError::internal("bad tus hash state");
        let bytes = hex::decode(saved).map_err(|_| bad())?;
        let state = SerializedState::<Sha256>::try_from(bytes.as_slice()).map_err(|_| bad())?;
        Sha256::deserialize(&state)
            .map(ResumableSha256)
            .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn matches_sha2_across_saves() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for cuts in [
            vec![0],
            vec![1, 63, 64, 65],
            vec![500, 5000, 9999],
            vec![10_000],
        ] {
            let mut h = ResumableSha256::default();
            let mut at = 0;
            for c in cuts.iter().chain(std::iter::once(&10_000)) {
                h.update(&data[at..*c]);
                h = ResumableSha256::load(&h.save()).unwrap();
                at = *c;
            }
            assert_eq!(h.finish_hex(), hex::encode(sha2::Sha256::digest(&data)));
        }
        assert_eq!(
            ResumableSha256::default().finish_hex(),
            hex::encode(sha2::Sha256::digest(b""))
        );
        assert!(ResumableSha256::load("00").is_err());
        assert!(ResumableSha256::load("zz").is_err());
    }
}
