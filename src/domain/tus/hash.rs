//! A SHA-256 whose state can be saved between requests: a tus upload's bytes
//! arrive over many PATCHes, possibly on different nodes, and the file's ETag
//! is the SHA-256 of all of them. The state (8 words, the length, and < 64
//! buffered bytes) is stored in the upload's row; `sha2::compress256` does the
//! work (with the CPU's SHA extensions where present).

use crate::error::{AppError, AppResult};
use sha2::digest::generic_array::GenericArray;

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Blocks per `compress256` call (16 KiB).
const BATCH: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub struct ResumableSha256 {
    state: [u32; 8],
    len: u64,
    buf: Vec<u8>,
}

impl Default for ResumableSha256 {
    fn default() -> Self {
        ResumableSha256 {
            state: H0,
            len: 0,
            buf: Vec::with_capacity(64),
        }
    }
}

impl ResumableSha256 {
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.buf.is_empty() {
            let take = (64 - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < 64 {
                return;
            }
            let block = GenericArray::clone_from_slice(&self.buf);
            sha2::compress256(&mut self.state, &[block]);
            self.buf.clear();
        }
        // Whole blocks go to compress256 in batches (one call keeps the state
        // in registers across blocks; copying into the batch costs far less).
        let mut blocks = data.chunks_exact(64);
        let mut batch = Vec::with_capacity(BATCH);
        for block in &mut blocks {
            batch.push(GenericArray::clone_from_slice(block));
            if batch.len() == BATCH {
                sha2::compress256(&mut self.state, &batch);
                batch.clear();
            }
        }
        if !batch.is_empty() {
            sha2::compress256(&mut self.state, &batch);
        }
        self.buf.extend_from_slice(blocks.remainder());
    }

    /// Lower-case hex digest of everything so far.
    pub fn finish_hex(&self) -> String {
        let mut state = self.state;
        let mut tail = self.buf.clone();
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&(self.len * 8).to_be_bytes());
        let blocks: Vec<_> = tail
            .chunks_exact(64)
            .map(GenericArray::clone_from_slice)
            .collect();
        sha2::compress256(&mut state, &blocks);
        state.iter().map(|w| format!("{w:08x}")).collect()
    }

    /// `<8 words hex>:<length>:<buffered hex>`.
    pub fn save(&self) -> String {
        let words: String = self.state.iter().map(|w| format!("{w:08x}")).collect();
        format!("{words}:{}:{}", self.len, hex::encode(&self.buf))
    }

    pub fn load(saved: &str) -> AppResult<ResumableSha256> {
        let bad = || AppError::internal("bad tus hash state");
        let mut it = saved.split(':');
        let (words, len, buf) = match (it.next(), it.next(), it.next()) {
            (Some(w), Some(l), Some(b)) if w.len() == 64 => (w, l, b),
            _ => return Err(bad()),
        };
        let mut state = [0u32; 8];
        for (i, w) in state.iter_mut().enumerate() {
            *w = u32::from_str_radix(&words[i * 8..i * 8 + 8], 16).map_err(|_| bad())?;
        }
        let len: u64 = len.parse().map_err(|_| bad())?;
        let buf = hex::decode(buf).map_err(|_| bad())?;
        if buf.len() >= 64 || len % 64 != buf.len() as u64 {
            return Err(bad());
        }
        Ok(ResumableSha256 { state, len, buf })
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
        assert!(ResumableSha256::load("00:1:").is_err());
    }
}
