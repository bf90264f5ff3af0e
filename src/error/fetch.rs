//! Refusals and failures of an outbound request a user asked for: an upload
//! from a URL (SPEC §5.7), a webhook or upload-hook URL (SPEC §11).

use axum::http::StatusCode;
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// 400 `url_not_allowed`: not http(s), an address this server does not
    /// reach, or too many redirects.
    NotAllowed { reason: String },
    /// 502 `url_fetch_failed`: DNS, TLS, connection, or a non-2xx answer
    /// (`status`).
    Failed { reason: String, status: Option<u16> },
    /// 504 `url_fetch_timeout`: no headers within 10 s, or a body under the
    /// minimum rate.
    Timeout { reason: String },
}

impl FetchError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            FetchError::NotAllowed { .. } => StatusCode::BAD_REQUEST,
            FetchError::Failed { .. } => StatusCode::BAD_GATEWAY,
            FetchError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub(super) fn code(&self) -> &'static str {
        match self {
            FetchError::NotAllowed { .. } => "url_not_allowed",
            FetchError::Failed { .. } => "url_fetch_failed",
            FetchError::Timeout { .. } => "url_fetch_timeout",
        }
    }

    pub(super) fn message(&self) -> String {
        match self {
            FetchError::NotAllowed { reason } => format!("The URL is not allowed: {reason}."),
            FetchError::Failed {
                status: Some(status),
                ..
            } => format!("The URL answered {status}; nothing was stored."),
            FetchError::Failed { reason, .. } => {
                format!("The URL could not be fetched: {reason}; nothing was stored.")
            }
            FetchError::Timeout { reason } => {
                format!("The URL took too long: {reason}; nothing was stored.")
            }
        }
    }

    pub(super) fn details(&self) -> Value {
        match self {
            FetchError::Failed { status, reason } => json!({ "status": status, "reason": reason }),
            FetchError::NotAllowed { reason } | FetchError::Timeout { reason } => {
                json!({ "reason": reason })
            }
        }
    }

    pub(super) fn suggestion(&self) -> &'static str {
        match self {
            FetchError::NotAllowed { .. } => {
                "Use a public http(s) URL. An operator can open private networks to fetches \
                 with STOWAGE_FETCH_ALLOWED_NETWORKS (CIDRs)."
            }
            FetchError::Failed { .. } => {
                "Check that the URL answers 200 to a GET from this server, then retry."
            }
            FetchError::Timeout { .. } => {
                "Retry later, or upload the file directly (uploads/binary) if its server is slow."
            }
        }
    }
}
