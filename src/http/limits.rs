//! Limits every request gets before it reaches a route (SPEC §8 "Bounded work
//! per request"):
//!
//! - [`arm_body_limits`]: a request body that sends nothing for
//!   `STOWAGE_BODY_TIMEOUT` seconds, or averages under `STOWAGE_BODY_MIN_RATE`
//!   bytes/s once [`MIN_RATE_WINDOW`] has passed since it was first read,
//!   fails its read; the route's own cleanup removes what it staged, and the
//!   answer becomes 408 `body_timeout`. The same [`Verdict`] carries the form
//!   reader's 413 for a preamble or part headers over 16 KiB (`http/form.rs`).
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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long a body is read before its average rate is held to
/// `STOWAGE_BODY_MIN_RATE` (SPEC §8: 10 s).
pub const MIN_RATE_WINDOW: Duration = Duration::from_secs(10);

/// Why a request's body was cut short, set once by whatever noticed (a body
/// limit here, the form reader), and turned into the answer by the edge
/// (see [`body_timeout_answer`]): a route only sees its read fail.
#[derive(Default)]
pub struct Verdict {
    fired: AtomicBool,
    error: Mutex<Option<AppError>>,
}

impl Verdict {
    /// Records `error` unless another one was recorded first.
    pub fn set(&self, error: AppError) {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(error);
            self.fired.store(true, Ordering::SeqCst);
        }
    }

    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    fn take(&self) -> Option<AppError> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

tokio::task_local! {
    static VERDICT: Arc<Verdict>;
}

/// The verdict of the request this task is handling, when the edge armed one
/// (the form reader takes it when the form is opened, in the handler's task).
pub fn request_verdict() -> Option<Arc<Verdict>> {
    VERDICT.try_with(Arc::clone).ok()
}

/// A request body under watch (see [`arm_body_limits`]).
pub struct BodyWatch {
    verdict: Arc<Verdict>,
    imagekit: bool,
}

impl BodyWatch {
    /// Runs the rest of the request with this watch's verdict at hand
    /// ([`request_verdict`]).
    /// Not an `async fn`, which would keep `f` twice in its state.
    pub fn scope<F: Future<Output = Response>>(&self, f: F) -> impl Future<Output = Response> {
        VERDICT.scope(self.verdict.clone(), f)
    }
}

/// The body limits of every request: `STOWAGE_BODY_TIMEOUT` (seconds) and
/// `STOWAGE_BODY_MIN_RATE` (bytes/s; 0 = none).
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub idle_secs: u64,
    pub min_rate: u64,
}

/// Wraps the request body in a [`WatchedBody`]; a request without a body
/// (most downloads) has nothing to watch.
pub fn arm_body_limits(limits: BodyLimits, req: Request) -> (Request, Option<BodyWatch>) {
    if req.body().is_end_stream() {
        return (req, None);
    }
    let verdict = Arc::new(Verdict::default());
    let watch = BodyWatch {
        verdict: verdict.clone(),
        imagekit: is_imagekit(req.uri().path()),
    };
    let req = req.map(|body| Body::new(WatchedBody::new(body, limits, verdict)));
    (req, Some(watch))
}

/// Turns the error response of a request whose body was cut short into the
/// verdict's error (ImageKit's shape on the ImageKit routes).
pub fn body_timeout_answer(watch: Option<BodyWatch>, resp: Response) -> Response {
    let Some(w) = watch else {
        return resp;
    };
    if !w.verdict.fired() || !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let Some(err) = w.verdict.take() else {
        return resp;
    };
    if w.imagekit {
        super::imagekit::ImageKitError::from(err).into_response()
    } else {
        err.into_response()
    }
}

fn is_imagekit(path: &str) -> bool {
    matches!(path, "/api/v1/files/upload" | "/api/v2/files/upload")
}

/// The error a cut-short body yields to whoever reads it.
#[derive(Debug, thiserror::Error)]
#[error("the request body was cut short: it sent nothing, or too little, for too long")]
pub struct BodyTimedOut;

/// A body that fails with [`BodyTimedOut`] once `idle` passes without a frame
/// (the clock restarts at every frame), or once its average since its first
/// read falls under `min_rate` bytes/s after [`MIN_RATE_WINDOW`]; either is
/// recorded in the [`Verdict`]. The clock is read once per frame (as the idle
/// timer needs anyway); one timer covers both limits.
pub struct WatchedBody {
    inner: Body,
    idle: Duration,
    min_rate: u64,
    /// When the body was first read; the rate's clock starts there.
    started: Option<Instant>,
    /// When the idle clock last restarted.
    last: Instant,
    bytes: u64,
    sleep: Pin<Box<Sleep>>,
    verdict: Arc<Verdict>,
}

impl WatchedBody {
    pub fn new(inner: Body, limits: BodyLimits, verdict: Arc<Verdict>) -> WatchedBody {
        let idle = Duration::from_secs(limits.idle_secs.max(1));
        let now = Instant::now();
        WatchedBody {
            inner,
            idle,
            min_rate: limits.min_rate,
            started: None,
            last: now,
            bytes: 0,
            sleep: Box::pin(tokio::time::sleep_until(now + idle)),
            verdict,
        }
    }

    /// When the average falls under the minimum rate if nothing more comes.
    fn rate_deadline(&self, started: Instant) -> Option<Instant> {
        let rate = self.min_rate;
        (rate > 0).then(|| {
            let secs = Duration::from_secs(self.bytes / rate)
                + Duration::from_nanos((self.bytes % rate) * 1_000_000_000 / rate);
            started + secs.max(MIN_RATE_WINDOW)
        })
    }

    /// The next instant a limit is reached if nothing more comes.
    fn deadline(&self, started: Instant) -> Instant {
        let idle = self.last + self.idle;
        self.rate_deadline(started).map_or(idle, |r| r.min(idle))
    }

    /// Records why the body stops (the too-slow error if the rate deadline
    /// has passed, else the idle one) and fails the read.
    fn stop(
        &mut self,
        started: Instant,
        now: Instant,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let err = match self.rate_deadline(started) {
            Some(r) if r <= now => {
                let secs = now.duration_since(started).as_secs_f64();
                AppError::BodyTooSlow {
                    rate: (self.bytes as f64 / secs) as u64,
                    min_rate: self.min_rate,
                    seconds: secs as u64,
                }
            }
            _ => AppError::BodyTimeout {
                seconds: self.idle.as_secs(),
            },
        };
        self.verdict.set(err);
        Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
    }
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.verdict.fired() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        let started = match this.started {
            Some(t) => t,
            None => {
                let now = Instant::now();
                this.started = Some(now);
                this.last = now;
                let deadline = this.deadline(now);
                this.sleep.as_mut().reset(deadline);
                now
            }
        };
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
                let now = Instant::now();
                if this.rate_deadline(started).is_some_and(|r| r < now) {
                    return this.stop(started, now);
                }
                this.last = now;
                let deadline = this.deadline(started);
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => this.stop(started, Instant::now()),
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

    #[tokio::test]
    async fn the_rate_deadline_is_the_window_or_when_the_average_drops() {
        let body = |min_rate, bytes| {
            let limits = BodyLimits {
                idle_secs: 60,
                min_rate,
            };
            let mut b = WatchedBody::new(Body::empty(), limits, Arc::default());
            b.bytes = bytes;
            b
        };
        let t0 = Instant::now();
        let at = |b: &WatchedBody| b.rate_deadline(t0).map(|d| d.duration_since(t0));
        assert_eq!(at(&body(1024, 0)), Some(MIN_RATE_WINDOW));
        assert_eq!(at(&body(1024, 10 * 1024)), Some(MIN_RATE_WINDOW));
        assert_eq!(at(&body(1024, 20 * 1024)), Some(Duration::from_secs(20)));
        assert_eq!(
            at(&body(1024, 20 * 1024 + 512)),
            Some(Duration::from_millis(20_500))
        );
        assert_eq!(at(&body(0, 5)), None);
        // The timer is set to whichever limit comes first.
        let mut b = body(1024, 100 * 1024);
        b.last = t0;
        assert_eq!(b.deadline(t0), t0 + Duration::from_secs(60));
        b.bytes = 0;
        assert_eq!(b.deadline(t0), t0 + MIN_RATE_WINDOW);
    }

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
