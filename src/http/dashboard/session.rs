//! The dashboard session: a cookie sealed (AES-256-GCM) with the master key's
//! sessions subkey, holding a random session id and the key's hash, never the
//! key. `Auth::dashboard_principal` (`auth/dashboard.rs`) turns it into the
//! principal on each use: a revoked key or a sign-out ends it on every node
//! within a second.

use crate::auth::dashboard::{session_ended, SessionRef};
use crate::auth::keyring::Keyring;
use crate::auth::{secrets, Principal, ResolvedKey};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const COOKIE: &str = "stowage_dashboard";
/// 12 hours.
pub const LIFETIME_SECS: i64 = 12 * 3600;
/// Prefix of the sealed text, so a session cookie cannot be confused with
/// another sealed secret.
const PURPOSE: &str = "stowage-dashboard-session-v2:";

/// What the cookie holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionData {
    /// Random, one per sign-in: what sign-out records as ended.
    #[serde(rename = "s")]
    pub id: String,
    /// SHA-256 of the key (hex), as the key table stores it.
    #[serde(rename = "h")]
    pub key_hash: String,
    #[serde(rename = "a")]
    pub account: String,
    /// Unix seconds.
    #[serde(rename = "i")]
    pub issued: i64,
    #[serde(rename = "e")]
    pub expires: i64,
    /// Random, sent back by the page as `x-csrf-token`.
    #[serde(rename = "c")]
    pub csrf: String,
}

impl SessionData {
    pub fn new(key_hash: String, account: String, now: i64) -> SessionData {
        let csrf: [u8; 32] = rand::random();
        let id: [u8; 16] = rand::random();
        SessionData {
            id: hex::encode(id),
            key_hash,
            account,
            issued: now,
            expires: now + LIFETIME_SECS,
            csrf: hex::encode(csrf),
        }
    }

    pub fn seal(&self, keys: &Keyring) -> String {
        let json = serde_json::to_string(self).expect("session serializes");
        secrets::seal_with(keys.sessions(), &format!("{PURPOSE}{json}"))
    }

    /// The session in the request's cookie, if it opens and has not expired.
    pub fn from_headers(keys: &Keyring, headers: &HeaderMap, now: i64) -> Option<SessionData> {
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == COOKIE)
            .map(|c| c.value().to_string())?;
        if value.len() > 4096 {
            return None;
        }
        let plain = secrets::open_with(keys.sessions(), &value).ok()?;
        let json = plain.strip_prefix(PURPOSE)?;
        let data: SessionData = serde_json::from_str(json).ok()?;
        (data.expires > now && data.issued <= now + 30).then_some(data)
    }

    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, token: Option<&str>) -> bool {
        let Some(token) = token else { return false };
        let a = Sha256::digest(token.as_bytes());
        let b = Sha256::digest(self.csrf.as_bytes());
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

/// The error for a missing, expired or no-longer-valid session.
pub fn ended(message: &str) -> AppError {
    session_ended(message)
}

/// The principal a session stands for (decided in `auth/`).
pub async fn principal(
    state: &AppState,
    data: &SessionData,
) -> AppResult<(Principal, Arc<ResolvedKey>)> {
    let session = SessionRef {
        id: &data.id,
        key_hash: &data.key_hash,
        account: &data.account,
    };
    state.auth.dashboard_principal(session).await
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(state: &AppState, sealed: &str) -> HeaderValue {
    cookie_header(state, sealed, LIFETIME_SECS)
}

/// `Set-Cookie` that removes the session.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie_header(state, "", 0)
}

fn cookie_header(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age={max_age}{secure}"
    ))
    .expect("cookie is ASCII")
}

/// The origin (`scheme://host[:port]`) a request's `Origin`, else `Referer`, names.
fn request_origin(headers: &HeaderMap) -> Option<url::Url> {
    let text = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())?;
    url::Url::parse(text).ok()
}

fn authority(u: &url::Url) -> Option<String> {
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Whether the request's `Origin` (else `Referer`) is this server: the host the
/// browser addressed (`Host`) or the configured public URL. A request with
/// neither header is not same-origin.
pub fn same_origin(state: &AppState, headers: &HeaderMap, uri: &Uri) -> bool {
    let Some(origin) = request_origin(headers) else {
        return false;
    };
    if !matches!(origin.scheme(), "http" | "https") {
        return false;
    }
    let Some(claimed) = authority(&origin) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    if host.is_some_and(|h| h.eq_ignore_ascii_case(&claimed)) {
        return true;
    }
    url::Url::parse(&state.public_url).is_ok_and(|p| {
        p.scheme() == origin.scheme()
            && authority(&p).is_some_and(|a| a.eq_ignore_ascii_case(&claimed))
    })
}

/// Whether a browser says the request came from another site or origin
/// (`Sec-Fetch-Site`), or names a foreign `Origin`.
pub fn cross_origin(state: &AppState, headers: &HeaderMap, uri: &Uri) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if matches!(site, "cross-site" | "same-site") {
        return true;
    }
    headers.contains_key(header::ORIGIN) && !same_origin(state, headers, uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let master = Keyring::new([7u8; 32]);
        let data = SessionData::new("ab".repeat(32), "A623uY2".into(), 1000);
        let sealed = data.seal(&master);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE}={sealed}")).unwrap(),
        );
        let back = SessionData::from_headers(&master, &h, 1001).unwrap();
        assert_eq!(back.account, "A623uY2");
        assert!(back.csrf_matches(Some(&data.csrf)));
        assert!(!back.csrf_matches(Some("nope")));
        assert!(!back.csrf_matches(None));
        assert_eq!(back.id, data.id);
        assert_eq!(back.id.len(), 32);
        assert_ne!(
            SessionData::new(String::new(), String::new(), 0).id,
            data.id
        );
        assert!(SessionData::from_headers(&Keyring::new([8u8; 32]), &h, 1001).is_none());
        assert!(SessionData::from_headers(&master, &h, 1000 + LIFETIME_SECS).is_none());
    }
}
