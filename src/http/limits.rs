//! Limits every request gets before it reaches a route (SPEC §8 "Bounded work
//! per request"):
//!
//! - [`arm_body_timeout`]: a request body that sends nothing for
//!   `STOWAGE_BODY_TIMEOUT` seconds fails its read; the route's own cleanup
//!   removes what it staged, and the answer becomes 408 `body_timeout`.
//! - [`refuse_bad_utf8`]: a URL path or query whose percent-decoding is not UTF-8
//!   (overlong forms, surrogates, stray continuation bytes) → 400 `invalid_path`,
//!   before any extractor could replace the bad bytes.

use crate::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A request body under watch (see [`arm_body_timeout`]).
pub struct BodyWatch {
    fired: Arc<AtomicBool>,
    seconds: u64,
    imagekit: bool,
}

/// Wraps the request body in an [`IdleTimeoutBody`] of `secs` seconds; a
/// request without a body (most downloads) has nothing to time out.
pub fn arm_body_timeout(secs: u64, req: Request) -> (Request, Option<BodyWatch>) {
    if req.body().is_end_stream() {
        return (req, None);
    }
    let fired = Arc::new(AtomicBool::new(false));
    let watch = BodyWatch {
        fired: fired.clone(),
        seconds: secs,
        imagekit: is_imagekit(req.uri().path()),
    };
    let req = req.map(|body| {
        Body::new(IdleTimeoutBody::new(
            body,
            Duration::from_secs(secs.max(1)),
            fired,
        ))
    });
    (req, Some(watch))
}

/// Turns the error response of a request whose body timed out into 408
/// `body_timeout` (ImageKit's shape on the ImageKit routes).
pub fn body_timeout_answer(watch: Option<BodyWatch>, resp: Response) -> Response {
    let Some(w) = watch else {
        return resp;
    };
    if !w.fired.load(Ordering::SeqCst)
        || !(resp.status().is_client_error() || resp.status().is_server_error())
    {
        return resp;
    }
    let err = AppError::BodyTimeout { seconds: w.seconds };
    if w.imagekit {
        super::imagekit::ImageKitError::from(err).into_response()
    } else {
        err.into_response()
    }
}

fn is_imagekit(path: &str) -> bool {
    matches!(path, "/api/v1/files/upload" | "/api/v2/files/upload")
}

/// The error a timed-out body yields to whoever reads it.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for too long")]
pub struct BodyTimedOut;

/// A body that fails with [`BodyTimedOut`] once `timeout` passes without a
/// frame (the clock restarts at every frame), and records that it did.
pub struct IdleTimeoutBody {
    inner: Body,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    fired: Arc<AtomicBool>,
}

impl IdleTimeoutBody {
    pub fn new(inner: Body, timeout: Duration, fired: Arc<AtomicBool>) -> IdleTimeoutBody {
        IdleTimeoutBody {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            fired,
        }
    }
}

impl HttpBody for IdleTimeoutBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.fired.load(Ordering::SeqCst) {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let deadline = Instant::now() + this.timeout;
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(frame)
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.fired.store(true, Ordering::SeqCst);
                    Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: 400 `invalid_path` when the URL path or query string does not
/// percent-decode to UTF-8 (SPEC §8: never replaced or guessed).
/// The 400 for a URL whose path or query does not decode to UTF-8, if so.
pub fn refuse_bad_utf8(req: &Request) -> Option<Response> {
    let uri = req.uri();
    if !decodes_to_utf8(uri.path()) {
        return Some(AppError::invalid_path(uri.path(), "it is not valid UTF-8").into_response());
    }
    let query = uri.query().filter(|q| q.as_bytes().contains(&b'%'))?;
    let bad = query.split('&').find(|pair| !decodes_to_utf8(pair))?;
    Some(AppError::invalid_path(bad, "the query string is not valid UTF-8").into_response())
}

/// Whether `s` percent-decodes to valid UTF-8 (overlong encodings and
/// surrogates are invalid UTF-8, so they fail here).
pub fn decodes_to_utf8(s: &str) -> bool {
    if !s.as_bytes().contains(&b'%') {
        return true; // a &str is UTF-8 already
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(s).collect();
    std::str::from_utf8(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_refused() {
        for bad in [
            "/a/%FF.txt",
            "%C0%AE%C0%AE",
            "%ED%A0%80",
            "%80",
            "filePath=/a%E2%82",
        ] {
            assert!(!decodes_to_utf8(bad), "{bad}");
        }
        for good in [
            "/a/b.txt",
            "filePath=%2Fa%2F%C3%A9.txt",
            "%E2%82%AC",
            "100%",
            "%zz",
        ] {
            assert!(decodes_to_utf8(good), "{good}");
        }
    }
}
