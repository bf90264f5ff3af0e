//! Streaming base64 for form fields that carry a file as text (ImageKit's
//! `file`, SPEC §5.5): memory stays bounded whatever the field's size.

use super::forms::PartStream;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// A text part holding base64 (optionally a `data:…;base64,` URL), decoded
/// as it streams.
pub fn decode_stream(input: PartStream) -> PartStream {
    let state = (input, Base64Decoder::default(), false);
    futures::stream::unfold(state, |(mut input, mut dec, done)| async move {
        if done {
            return None;
        }
        loop {
            match input.next().await {
                Some(Ok(chunk)) => match dec.feed(&chunk) {
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => return Some((Ok(out), (input, dec, false))),
                    Err(e) => return Some((Err(e), (input, dec, true))),
                },
                Some(Err(e)) => return Some((Err(e), (input, dec, true))),
                None => {
                    return match dec.finish() {
                        Ok(out) if out.is_empty() => None,
                        Ok(out) => Some((Ok(out), (input, dec, true))),
                        Err(e) => Some((Err(e), (input, dec, true))),
                    }
                }
            }
        }
    })
    .boxed()
}

/// Streaming standard base64: whitespace is skipped, an optional `data:` URL
/// prefix (up to `;base64,`) is dropped, and whole 4-character groups are
/// decoded as soon as they arrive.
#[derive(Default)]
pub struct Base64Decoder {
    pending: BytesMut,
    /// Past the optional `data:…;base64,` prefix.
    started: bool,
}

/// How far into the field a `data:` URL prefix may reach.
const MAX_DATA_URL_PREFIX: usize = 256;

impl Base64Decoder {
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Bytes, String> {
        self.pending
            .extend(chunk.iter().filter(|b| !b.is_ascii_whitespace()));
        if !self.started {
            if self.pending.starts_with(b"data:") {
                match find(&self.pending, b";base64,") {
                    Some(i) => {
                        let _ = self.pending.split_to(i + 8);
                    }
                    None if self.pending.len() < MAX_DATA_URL_PREFIX => return Ok(Bytes::new()),
                    None => return Err(not_base64()),
                }
            } else if self.pending.len() < 5 && b"data:".starts_with(&self.pending) {
                return Ok(Bytes::new());
            }
            self.started = true;
        }
        let whole = self.pending.len() / 4 * 4;
        let group = self.pending.split_to(whole);
        decode(&group)
    }

    pub fn finish(&mut self) -> Result<Bytes, String> {
        if !self.started && self.pending.starts_with(b"data:") {
            return Err(not_base64());
        }
        let rest = std::mem::take(&mut self.pending);
        decode(&rest)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn decode(b64: &[u8]) -> Result<Bytes, String> {
    if b64.is_empty() {
        return Ok(Bytes::new());
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(Bytes::from)
        .map_err(|_| not_base64())
}

fn not_base64() -> String {
    "the file field is neither a file nor base64 data".into()
}
