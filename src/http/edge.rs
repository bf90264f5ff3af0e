//! The one middleware every request passes before routing: the request id
//! (`x-request-id`, kept when the client sends one) and the tracing span that
//! carries it, CORS (and its preflights), strict UTF-8 in the URL, the body
//! limits (idle timeout, minimum rate), and the dashboard gate, in that
//! order; and `Connection: close` on a refusal of a request that sent a body.
//! Every request runs in a rate-limit slot (`http/rates.rs`): the anonymous
//! limit is checked first, and the limit a request met is told in its
//! `RateLimit-Policy`/`RateLimit` header fields.
//!
//! One layer instead of seven (tower-http's request-id and trace layers and
//! four `from_fn` layers, each boxing a future and cloning the inner router
//! per request): measured with callgrind on the 1 KiB GET, 60 600 → ~45 000
//! instructions per request (docs/performance.md).

use super::{cors::Cors, dashboard, limits, rates};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the edge needs, built once.
#[derive(Clone)]
pub struct Edge {
    pub state: AppState,
    /// `STOWAGE_ALLOWED_ORIGINS`.
    pub allowed: Arc<Vec<String>>,
    /// `STOWAGE_BODY_TIMEOUT`, seconds.
    pub body_timeout: u64,
}

pub async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let id = request_id(&mut req);
    let span = tracing::info_span!(
        "http",
        request_id = id.to_str().unwrap_or(""),
        method = %req.method(),
        uri = req.uri().path(),
    );
    let started = Instant::now();
    if let Some(account) = account_of(req.uri().path()) {
        // Counted in memory; unknown accounts are dropped at the flush.
        edge.state.daily.add(account, crate::meta::Daily::Request);
    }
    let has_body = sends_body(&req);
    let cors = Cors::of(&edge.allowed, &req);
    let client = rates::client_ip(&edge.state, &req);
    let (note, allowed) = match rates::check_anonymous(&edge.state, &req, client) {
        Some((note, outcome)) => (Some(note), outcome),
        None => (None, Ok(())),
    };
    let resp = match allowed {
        Err(refused) => {
            let mut resp = refused.into_response();
            rates::add_headers(&mut resp, note);
            resp
        }
        Ok(()) => {
            rates::limited(client, note, async {
                if cors.preflight {
                    Cors::preflight()
                } else {
                    inner(&edge, req, next).instrument(span.clone()).await
                }
            })
            .await
        }
    };
    let mut resp = cors.finish(resp);
    let status = resp.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms = ms, "response failed");
        } else {
            tracing::debug!(status, latency_ms = ms, "response");
        }
    });
    resp.headers_mut().insert(REQUEST_ID, id);
    if status >= 400 && has_body {
        // A refusal may leave the request body unread, and then hyper closes
        // the connection after answering; saying so keeps the client from
        // reusing it for its next request (which would fail as an
        // incomplete message, as a race, in every HTTP client with a pool).
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The account a request is for, when its URL names one: `/v2/accounts/{acc}/…`,
/// or a CDN URL whose first segment is a well-formed account id.
fn account_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/accounts/");
    let first = rest.unwrap_or(path.trim_start_matches('/'));
    let account = first.split('/').next()?;
    let well_formed = account.len() == 7 && crate::auth::keys::is_base58(account);
    (well_formed && (rest.is_some() || first.contains('/'))).then_some(account)
}

/// Whether the request declares a body (a non-zero length, or chunked).
fn sends_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The client's `x-request-id` if it sent a usable one, else a new UUID;
/// set on the request too, for anything downstream that reads it.
fn request_id(req: &mut Request) -> HeaderValue {
    if let Some(v) = req.headers().get(&REQUEST_ID) {
        if !v.is_empty() && v.len() <= 128 && v.to_str().is_ok() {
            return v.clone();
        }
    }
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    let v = HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"));
    req.headers_mut().insert(REQUEST_ID, v.clone());
    v
}

async fn inner(edge: &Edge, req: Request, next: Next) -> Response {
    if let Some(refused) = limits::refuse_bad_utf8(&req) {
        return refused;
    }
    let body_limits = limits::BodyLimits {
        idle_secs: edge.body_timeout,
        min_rate: edge.state.config.body_min_rate,
    };
    let (req, watch) = limits::arm_body_limits(body_limits, req);
    // The gate's future is made in each arm, so the two never take space
    // in this future side by side (docs/performance.md: future sizes).
    let resp = match &watch {
        Some(w) => {
            w.scope(dashboard::gate_request(&edge.state, req, next))
                .await
        }
        None => dashboard::gate_request(&edge.state, req, next).await,
    };
    limits::body_timeout_answer(watch, resp)
}
