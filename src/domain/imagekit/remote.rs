//! ImageKit's `file` field holding a URL (SPEC §5.5, §5.7): told apart from
//! base64 by its first bytes, read whole within [`MAX_URL`].

use crate::domain::forms::PartStream;
use crate::error::{AppError, AppResult};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// The longest URL a `file` field may hold.
pub const MAX_URL: usize = 8 * 1024;

/// Enough of the field to tell a URL from base64 (`https://` is 8 bytes),
/// and the rest of it.
pub async fn peek(mut part: PartStream) -> AppResult<(Bytes, PartStream)> {
    let mut head = BytesMut::new();
    while head.len() < 8 {
        match part.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(message)) => return Err(AppError::UploadIncomplete { message }),
            None => break,
        }
    }
    Ok((head.freeze(), part))
}

pub fn is_url(head: &[u8]) -> bool {
    let head = head.to_ascii_lowercase();
    head.starts_with(b"http://") || head.starts_with(b"https://")
}

/// The whole URL, trimmed; past [`MAX_URL`] bytes it is refused without
/// reading further.
pub async fn whole_url(head: Bytes, mut rest: PartStream) -> AppResult<String> {
    let mut url = BytesMut::from(&head[..]);
    while let Some(chunk) = rest.next().await {
        let chunk = chunk.map_err(|message| AppError::UploadIncomplete { message })?;
        if url.len() + chunk.len() > MAX_URL {
            return Err(AppError::invalid_request(
                format!("The file URL is longer than {MAX_URL} bytes."),
                "Send a shorter URL, or the file itself.",
            ));
        }
        url.extend_from_slice(&chunk);
    }
    String::from_utf8(url.to_vec())
        .map(|u| u.trim().to_string())
        .map_err(|_| {
            AppError::invalid_request(
                "The file URL is not UTF-8.",
                "Send the URL percent-encoded.",
            )
        })
}
