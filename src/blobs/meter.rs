//! The one metered, hashed byte loop. Every upload body — a streaming put
//! (`Blobs::put_stream_verified`, plain or through a store multipart upload),
//! a multipart part written in place, a tus PATCH — is read through a
//! [`Meter`]: it counts the bytes, stops at the first one past the limit, and
//! hashes them (SHA-256, and SHA-512 when the client declared one) for the
//! caller to verify at the end. What each caller does with the bytes (a
//! buffered writer, a store part, a file range) stays its own.

use super::digest::{Computed, Digester, Mismatch};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::pin::Pin;

/// Why a metered body stopped early.
#[derive(Debug)]
pub enum Stop {
    /// The client's body failed (disconnect, truncated body).
    Body(String),
    /// A byte past the limit arrived (it was not handed out).
    TooLarge { limit: u64 },
}

/// A body read chunk by chunk within a byte limit, hashed on the way.
pub struct Meter<'a, E> {
    body: Pin<Box<dyn Stream<Item = Result<Bytes, E>> + Send + 'a>>,
    limit: u64,
    received: u64,
    digester: Option<Digester>,
}

impl<'a, E: std::fmt::Display> Meter<'a, E> {
    /// At most `limit` bytes of `body`; `digester` (if any) sees each chunk
    /// handed out.
    pub fn new<S>(body: S, limit: u64, digester: Option<Digester>) -> Meter<'a, E>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'a,
    {
        Meter {
            body: Box::pin(body),
            limit,
            received: 0,
            digester,
        }
    }

    /// The next chunk; None at the end of the body.
    pub async fn next(&mut self) -> Option<Result<Bytes, Stop>> {
        let chunk = match self.body.next().await? {
            Ok(chunk) => chunk,
            Err(e) => return Some(Err(Stop::Body(e.to_string()))),
        };
        self.received += chunk.len() as u64;
        if self.received > self.limit {
            return Some(Err(Stop::TooLarge { limit: self.limit }));
        }
        if let Some(d) = &mut self.digester {
            d.update(&chunk);
        }
        Some(Ok(chunk))
    }

    /// Bytes handed out so far (and the one chunk refused past the limit).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The digests of what was handed out, or the first declared one they do
    /// not match; None without a digester.
    pub fn verify(self) -> Result<Option<Computed>, Mismatch> {
        self.digester.map(Digester::verify).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Send {
        futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn counts_hashes_and_stops_past_the_limit() {
        let mut m = Meter::new(body(&[b"ab", b"cd"]), 4, Some(Digester::new(None)));
        let mut got = Vec::new();
        while let Some(c) = m.next().await {
            got.extend_from_slice(&c.unwrap());
        }
        assert_eq!((got.as_slice(), m.received()), (&b"abcd"[..], 4));
        let sha = m.verify().unwrap().unwrap().sha256;
        assert_eq!(
            hex::encode(sha),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );

        let mut m = Meter::new(body(&[b"ab", b"cde"]), 4, None);
        assert!(m.next().await.unwrap().is_ok());
        assert!(matches!(
            m.next().await,
            Some(Err(Stop::TooLarge { limit: 4 }))
        ));
    }

    #[tokio::test]
    async fn a_failed_body_says_why() {
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"x")),
            Err("connection reset".to_string()),
        ]);
        let mut m = Meter::new(failing, 10, None);
        assert!(m.next().await.unwrap().is_ok());
        match m.next().await {
            Some(Err(Stop::Body(why))) => assert_eq!(why, "connection reset"),
            _ => panic!("expected the body's error"),
        }
        assert!(m.verify().unwrap().is_none());
    }
}
