//! Refusals and failures of outbound requests: an upload from a URL (SPEC
//! §5.7), a webhook or upload-hook URL, the upload hook's answer (SPEC §11).

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
    /// 403 `upload_rejected`: the upload hook answered 4xx (its `message`).
    Rejected { message: String, status: u16 },
    /// 503 `upload_hook_unavailable`: no answer within 5 s, or a 5xx.
    HookUnavailable { reason: String },
}

impl FetchError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            FetchError::NotAllowed { .. } => StatusCode::BAD_REQUEST,
            FetchError::Failed { .. } => StatusCode::BAD_GATEWAY,
            FetchError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            FetchError::Rejected { .. } => StatusCode::FORBIDDEN,
            FetchError::HookUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub(super) fn code(&self) -> &'static str {
        match self {
            FetchError::NotAllowed { .. } => "url_not_allowed",
            FetchError::Failed { .. } => "url_fetch_failed",
            FetchError::Timeout { .. } => "url_fetch_timeout",
            FetchError::Rejected { .. } => "upload_rejected",
            FetchError::HookUnavailable { .. } => "upload_hook_unavailable",
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
            FetchError::Rejected { message, .. } => {
                format!("The upload was refused by the account's upload hook: {message}")
            }
            FetchError::HookUnavailable { reason } => {
                format!("The account's upload hook could not be asked: {reason}.")
            }
        }
    }

    pub(super) fn details(&self) -> Value {
        match self {
            FetchError::Failed { status, reason } => json!({ "status": status, "reason": reason }),
            FetchError::NotAllowed { reason }
            | FetchError::Timeout { reason }
            | FetchError::HookUnavailable { reason } => json!({ "reason": reason }),
            FetchError::Rejected { status, .. } => json!({ "hookStatus": status }),
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
            FetchError::Rejected { .. } => {
                "The application behind this server decided against this upload; change what \
                 the message names (path, type, size) or ask its operator."
            }
            FetchError::HookUnavailable { .. } => {
                "Retry in a minute; the operator should check the upload hook's URL \
                 (GET /v2/accounts/{acc}/upload_hook) and that it answers within 5 s."
            }
        }
    }
}
