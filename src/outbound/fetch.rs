//! Streaming fetches for uploads from a URL (SPEC §5.7): headers within
//! [`HEADERS_TIMEOUT`], then a body that must keep SPEC §8's pace; never
//! buffered. Failures are [`FetchError`]s (400/502/504).

use super::{refusal_of, Outbound};
use crate::error::{AppError, FetchError};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// How long the source may take to send its response headers.
pub const HEADERS_TIMEOUT: Duration = Duration::from_secs(10);
/// The minimum rate applies once this much time has passed (as for bodies
/// clients send, SPEC §8).
const MIN_RATE_WINDOW: Duration = Duration::from_secs(10);

/// How fast a fetched body must arrive.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Longest pause between two chunks.
    pub idle: Duration,
    /// Average bytes/s once [`MIN_RATE_WINDOW`] has passed; 0: none.
    pub min_rate: u64,
}

/// A response whose body has not been read yet.
pub struct Fetched {
    /// `Content-Type` without its parameters.
    pub mime: Option<String>,
    pub content_length: Option<u64>,
    /// `Content-Disposition`'s file name, else the final URL's last segment.
    pub file_name: Option<String>,
    pub body: BoxStream<'static, Result<Bytes, AppError>>,
}

impl Outbound {
    /// GETs `url` (checked, redirects checked) and answers once its headers
    /// are in; the body is read as the stream is polled.
    pub async fn fetch(&self, url: Url, pace: Pace) -> Result<Fetched, AppError> {
        let request = self
            .fetch
            .get(url)
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .send();
        let resp = match tokio::time::timeout(HEADERS_TIMEOUT, request).await {
            Err(_) => return Err(timeout("no response headers within 10 s")),
            Ok(Err(e)) => return Err(failure(&e)),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if !status.is_success() {
            return Err(AppError::Fetch(FetchError::Failed {
                reason: format!("the source answered {status}"),
                status: Some(status.as_u16()),
            }));
        }
        let headers = resp.headers();
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let mime = text(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty());
        let file_name = text(reqwest::header::CONTENT_DISPOSITION)
            .and_then(disposition_name)
            .or_else(|| last_segment(resp.url()));
        Ok(Fetched {
            mime,
            content_length: resp.content_length(),
            file_name,
            body: paced(resp.bytes_stream(), pace),
        })
    }
}

fn timeout(reason: &str) -> AppError {
    AppError::Fetch(FetchError::Timeout {
        reason: reason.to_string(),
    })
}

/// A failed request: one of our refusals (400), a timeout, or a failure (502).
fn failure(e: &reqwest::Error) -> AppError {
    if let Some(refusal) = refusal_of(e) {
        return refusal.into();
    }
    if e.is_timeout() {
        return timeout("the connection timed out");
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    AppError::Fetch(FetchError::Failed {
        reason,
        status: None,
    })
}

/// The body, failing with a timeout when a chunk is late: after `idle`
/// without one, or once the average falls under `min_rate`.
fn paced<S>(inner: S, pace: Pace) -> BoxStream<'static, Result<Bytes, AppError>>
where
    S: futures::Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
{
    let started = Instant::now();
    let state = (Box::pin(inner), 0u64, false);
    futures::stream::unfold(state, move |(mut inner, bytes, done)| async move {
        if done {
            return None;
        }
        let mut deadline = Instant::now() + pace.idle;
        if pace.min_rate > 0 {
            let due = Duration::from_secs_f64(bytes as f64 / pace.min_rate as f64);
            deadline = deadline.min(started + due.max(MIN_RATE_WINDOW));
        }
        match tokio::time::timeout_at(deadline, inner.next()).await {
            Err(_) => {
                let reason = format!(
                    "the body stalled or fell under {} bytes/s after {bytes} bytes",
                    pace.min_rate
                );
                Some((Err(timeout(&reason)), (inner, bytes, true)))
            }
            Ok(None) => None,
            Ok(Some(Ok(chunk))) => {
                let n = bytes + chunk.len() as u64;
                Some((Ok(chunk), (inner, n, false)))
            }
            Ok(Some(Err(e))) => Some((Err(failure(&e)), (inner, bytes, true))),
        }
    })
    .boxed()
}

/// `filename*=UTF-8''…` (RFC 6266/5987) or `filename="…"`.
fn disposition_name(value: &str) -> Option<String> {
    let mut plain = None;
    for param in value.split(';').map(str::trim) {
        let Some((key, v)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = v.trim().splitn(3, '\'').nth(2)?;
                let name = percent_encoding::percent_decode_str(encoded)
                    .decode_utf8()
                    .ok()?;
                return clean(&name);
            }
            "filename" => plain = clean(v.trim().trim_matches('"')),
            _ => {}
        }
    }
    plain
}

fn last_segment(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    let name = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    clean(&name)
}

/// A name without folders or control characters, or none.
fn clean(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let base: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    (!base.is_empty() && base != "." && base != "..").then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_disposition_and_url() {
        assert_eq!(
            disposition_name("attachment; filename=\"a b.jpg\"").as_deref(),
            Some("a b.jpg")
        );
        assert_eq!(
            disposition_name("attachment; filename=x.bin; filename*=UTF-8''%C3%A9t%C3%A9.png")
                .as_deref(),
            Some("été.png")
        );
        assert_eq!(
            disposition_name("inline; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
        assert_eq!(disposition_name("inline"), None);
        let url = Url::parse("https://example.com/a/b%20c.png?x=1").unwrap();
        assert_eq!(last_segment(&url).as_deref(), Some("b c.png"));
        assert_eq!(
            last_segment(&Url::parse("https://example.com/").unwrap()),
            None
        );
    }
}
