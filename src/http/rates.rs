//! The edge's part of SPEC §12's rate limits: the client's address, the
//! `anonymous` limit (requests that carry no credential), and the
//! `RateLimit-Policy`/`RateLimit` header fields of whatever limit a request
//! met (`crate::ratelimit`).

use crate::error::AppError;
use crate::ratelimit::{self, Note};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderName};
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The request's client address (see `RateLimits::client_ip`); None when
/// the request did not come through the accept loop.
pub fn client_ip(state: &AppState, req: &Request) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(state.rates.client_ip(peer, req.headers()))
}

/// The `anonymous` limit (SPEC §12) for a request without credentials from
/// `client`: None when it does not apply, else the note of the check and,
/// past the limit, the 429 `rate_limited` refusal. Credentials are looked
/// for where SPEC §2 carries them (a credential that fails is 401 anyway);
/// a cookie alone does not count, as a browser sends it unasked.
pub fn check_anonymous(
    state: &AppState,
    req: &Request,
    client: Option<IpAddr>,
) -> Option<(Note, Result<(), AppError>)> {
    let (Some(limit), Some(ip)) = (&state.rates.anonymous, client) else {
        return None;
    };
    let h = req.headers();
    let query = req.uri().query().unwrap_or("");
    let credentialed = h.contains_key(header::AUTHORIZATION)
        || h.contains_key("x-api-key")
        || query
            .split('&')
            .any(|p| p.starts_with("sig=") || p.starts_with("apiKey="));
    if credentialed {
        return None;
    }
    Some(limit.take(&ip))
}

/// Writes the header fields of the limit the request met, if any.
pub fn add_headers(resp: &mut Response, note: Option<Note>) {
    if let Some(note) = note {
        let (policy, state) = ratelimit::header_values(&note);
        let h = resp.headers_mut();
        h.insert(RATELIMIT_POLICY, policy);
        h.insert(RATELIMIT, state);
    }
}

/// Runs the request `f` in a rate-limit slot for `client` that holds
/// `note` (the anonymous check's), and adds the header fields of the limit
/// it met.
pub fn limited<F>(
    client: Option<IpAddr>,
    note: Option<Note>,
    f: F,
) -> impl std::future::Future<Output = Response>
where
    F: std::future::Future<Output = Response>,
{
    use futures::FutureExt;
    ratelimit::scope(client, note, f).map(|(mut resp, note)| {
        add_headers(&mut resp, note);
        resp
    })
}
