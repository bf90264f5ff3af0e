//! One error type for the whole server, rendered as the JSON body of SPEC §8:
//! `{"error": {"code", "message", "suggestion", "details"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

mod store;
mod suggestion;
mod tus;

pub use store::{classify as classify_store_failure, StoreFailure};
pub use tus::TusError;

pub type AppResult<T> = Result<T, AppError>;

/// Why a credential was refused (401): every code a bad credential can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialError {
    ApiKeyRevoked,
    DashboardSessionRequired,
    InvalidApiKey,
    InvalidAuthorization,
    InvalidSignature,
    InvalidToken,
    OriginNotAllowed,
    TokenAlreadyUsed,
    TokenExpired,
    UrlExpired,
}

impl CredentialError {
    pub fn code(self) -> &'static str {
        match self {
            CredentialError::ApiKeyRevoked => "api_key_revoked",
            CredentialError::DashboardSessionRequired => "dashboard_session_required",
            CredentialError::InvalidApiKey => "invalid_api_key",
            CredentialError::InvalidAuthorization => "invalid_authorization",
            CredentialError::InvalidSignature => "invalid_signature",
            CredentialError::InvalidToken => "invalid_token",
            CredentialError::OriginNotAllowed => "origin_not_allowed",
            CredentialError::TokenAlreadyUsed => "token_already_used",
            CredentialError::TokenExpired => "token_expired",
            CredentialError::UrlExpired => "url_expired",
        }
    }
}
/// Which limit an image transformation went over (SPEC §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageLimit {
    /// Source + output pixels over `STOWAGE_IMAGE_MAX_PIXELS`.
    Pixels,
    /// An AVIF output over 16 MP.
    AvifOutput,
}

impl ImageLimit {
    fn message(self, pixels: u64, limit: u64) -> String {
        match self {
            ImageLimit::Pixels => format!(
                "The transformation handles {pixels} pixels (source and output), more than \
                 the limit of {limit} pixels (STOWAGE_IMAGE_MAX_PIXELS)."
            ),
            ImageLimit::AvifOutput => format!(
                "An AVIF output has at most {limit} pixels (4096×4096); this one would have \
                 {pixels}."
            ),
        }
    }
}

/// The message of a text field (or a piece of a form, named in parentheses
/// such as "(preamble)") over its limit.
fn field_too_large(name: &str, limit: usize) -> String {
    match name.strip_prefix('(') {
        Some(what) => format!(
            "The form's {} is over {limit} bytes.",
            what.trim_end_matches(')')
        ),
        None => format!("The field {name:?} is over {limit} bytes."),
    }
}

/// Everything that can go wrong, each with a stable `code` (API: clients branch on it).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("{message}")]
    InvalidRequest { message: String, suggestion: String },
    #[error("authentication required")]
    Unauthorized,
    #[error("{message}")]
    InvalidCredentials {
        code: CredentialError,
        message: String,
        suggestion: String,
    },
    #[error("{message}")]
    Forbidden { message: String, suggestion: String },
    #[error("path mismatch")]
    PathMismatch { expected: String, got: String },
    #[error("account mismatch")]
    AccountMismatch { url_account: String },
    #[error("file not found: {path}")]
    FileNotFound { path: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("no route {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("file already exists: {path}")]
    FileAlreadyExists { path: String },
    #[error("file too large")]
    FileTooLarge { limit: u64, declared: Option<u64> },
    #[error("mime type not allowed: {mime}")]
    MimeTypeNotAllowed { mime: String, allowed: String },
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("field too large: {name}")]
    FieldTooLarge { name: String, limit: usize },
    #[error("too many parts")]
    TooManyParts { limit: usize },
    #[error("upload incomplete: {message}")]
    UploadIncomplete { message: String },
    /// The bytes did not match a declared `Content-Digest`/`Repr-Digest`
    /// (RFC 9530); base64 digests.
    #[error("digest mismatch ({algorithm})")]
    DigestMismatch {
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error("invalid transformation parameter {parameter}: {message}")]
    InvalidTransformation { parameter: String, message: String },
    #[error("image too large: {pixels} pixels")]
    ImageTooLarge {
        pixels: u64,
        limit: u64,
        what: ImageLimit,
    },
    #[error("unsupported image: {reason}")]
    UnsupportedImage { reason: String },
    #[error("preset not found: {name}")]
    PresetNotFound { name: String },
    #[error("tus: {0:?}")]
    Tus(TusError),
    #[error("service unavailable: {cause}")]
    Unavailable { cause: String },
    /// The object store is full (SPEC §8: 507, nothing kept, no retry hint).
    #[error("object store full: {cause}")]
    InsufficientStorage { cause: String },
    /// A bounded resource is full (SPEC §8: 429 with `Retry-After`).
    #[error("busy: {what}")]
    Busy { what: String, retry_after: u64 },
    /// The request body sent nothing for `STOWAGE_BODY_TIMEOUT` seconds.
    #[error("body timeout")]
    BodyTimeout { seconds: u64 },
    /// The request body averaged under `STOWAGE_BODY_MIN_RATE` bytes/s once
    /// 10 s had passed (code `body_timeout` too).
    #[error("body too slow")]
    BodyTooSlow {
        rate: u64,
        min_rate: u64,
        seconds: u64,
    },
    /// A URL the server would call (a webhook, SPEC §5.7's rules) is refused.
    #[error("url not allowed: {reason}")]
    UrlNotAllowed { reason: String },
    #[error("internal error: {cause}")]
    Internal { cause: String },
}

impl AppError {
    pub fn invalid_request(message: impl Into<String>, suggestion: impl Into<String>) -> Self {
        AppError::InvalidRequest {
            message: message.into(),
            suggestion: suggestion.into(),
        }
    }

    pub fn invalid_path(path: &str, reason: impl Into<String>) -> Self {
        AppError::InvalidPath {
            path: path.chars().take(200).collect(),
            reason: reason.into(),
        }
    }

    pub fn bad_credentials(
        code: CredentialError,
        message: impl Into<String>,
        suggestion: impl Into<String>,
    ) -> Self {
        AppError::InvalidCredentials {
            code,
            message: message.into(),
            suggestion: suggestion.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>, suggestion: impl Into<String>) -> Self {
        AppError::Forbidden {
            message: message.into(),
            suggestion: suggestion.into(),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal {
            cause: cause.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidPath { .. } | AppError::InvalidRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            AppError::UploadIncomplete { .. } | AppError::DigestMismatch { .. } => {
                StatusCode::BAD_REQUEST
            }
            AppError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BodyTimeout { .. } | AppError::BodyTooSlow { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
            AppError::InvalidTransformation { .. } | AppError::UrlNotAllowed { .. } => {
                StatusCode::BAD_REQUEST
            }
            AppError::ImageTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedImage { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PresetNotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Unauthorized | AppError::InvalidCredentials { .. } => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Forbidden { .. }
            | AppError::AccountMismatch { .. }
            | AppError::PathMismatch { .. } => StatusCode::FORBIDDEN,
            AppError::FileNotFound { .. }
            | AppError::NotFound { .. }
            | AppError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            AppError::FileAlreadyExists { .. } => StatusCode::CONFLICT,
            AppError::FileTooLarge { .. }
            | AppError::FieldTooLarge { .. }
            | AppError::TooManyParts { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::MimeTypeNotAllowed { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::Tus(t) => t.status(),
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::InsufficientStorage { .. } => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidPath { .. } => "invalid_path",
            AppError::InvalidRequest { .. } => "invalid_request",
            AppError::UploadIncomplete { .. } => "upload_incomplete",
            AppError::DigestMismatch { .. } => "digest_mismatch",
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials { code, .. } => code.code(),
            AppError::Forbidden { .. } => "forbidden",
            AppError::AccountMismatch { .. } => "account_mismatch",
            AppError::PathMismatch { .. } => "path_mismatch",
            AppError::FileNotFound { .. } => "file_not_found",
            AppError::NotFound { .. } => "not_found",
            AppError::RouteNotFound { .. } => "route_not_found",
            AppError::FileAlreadyExists { .. } => "file_already_exists",
            AppError::FileTooLarge { .. } => "file_too_large",
            AppError::FieldTooLarge { .. } => "field_too_large",
            AppError::TooManyParts { .. } => "too_many_parts",
            AppError::MimeTypeNotAllowed { .. } => "mime_type_not_allowed",
            AppError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            AppError::InvalidTransformation { .. } => "invalid_transformation",
            AppError::ImageTooLarge { .. } => "image_too_large",
            AppError::UnsupportedImage { .. } => "unsupported_image",
            AppError::PresetNotFound { .. } => "preset_not_found",
            AppError::Tus(t) => t.code(),
            AppError::Unavailable { .. } => "service_unavailable",
            AppError::InsufficientStorage { .. } => "insufficient_storage",
            AppError::Busy { .. } => "busy",
            AppError::BodyTimeout { .. } | AppError::BodyTooSlow { .. } => "body_timeout",
            AppError::UrlNotAllowed { .. } => "url_not_allowed",
            AppError::Internal { .. } => "internal_error",
        }
    }

    /// The message shown to the client: never a secret, never an internal cause.
    pub fn message(&self) -> String {
        match self {
            AppError::InvalidPath { path, reason } => format!("Invalid path {path:?}: {reason}."),
            AppError::InvalidRequest { message, .. }
            | AppError::InvalidCredentials { message, .. }
            | AppError::Forbidden { message, .. } => message.clone(),
            AppError::UploadIncomplete { message } => message.clone(),
            AppError::DigestMismatch { algorithm, .. } => {
                format!("The uploaded bytes do not match the {algorithm} digest sent with them; nothing was stored.")
            }
            AppError::Unauthorized => "This resource needs credentials.".into(),
            AppError::AccountMismatch { url_account } => {
                format!("The credential does not belong to account {url_account}.")
            }
            AppError::PathMismatch { expected, got } => {
                format!("This token is for {expected}, not {got}.")
            }
            AppError::FileNotFound { path } => format!("File not found: {path}"),
            AppError::NotFound { what } => format!("{what} not found."),
            AppError::RouteNotFound { method, path } => format!("No route for {method} {path}."),
            AppError::FileAlreadyExists { path } => format!("A file already exists at {path}."),
            AppError::FileTooLarge { limit, declared } => match declared {
                Some(d) => format!("The file is {d} bytes; the limit is {limit} bytes."),
                None => format!("The file is larger than the limit of {limit} bytes."),
            },
            AppError::FieldTooLarge { name, limit } => field_too_large(name, *limit),
            AppError::TooManyParts { limit } => {
                format!("The form has more than {limit} parts.")
            }
            AppError::MimeTypeNotAllowed { mime, allowed } => {
                format!("Files of type {mime:?} are not allowed here (allowed: {allowed}).")
            }
            AppError::RangeNotSatisfiable { size } => {
                format!("The requested range is outside the file ({size} bytes).")
            }
            AppError::InvalidTransformation { parameter, message } => {
                format!("Invalid image transformation parameter `{parameter}`: {message}.")
            }
            AppError::ImageTooLarge {
                pixels,
                limit,
                what,
            } => what.message(*pixels, *limit),
            AppError::UnsupportedImage { reason } => {
                format!("This file cannot be transformed: {reason}.")
            }
            AppError::PresetNotFound { name } => {
                format!("The account has no transformation preset {name:?}.")
            }
            AppError::Tus(t) => t.message(),
            AppError::Unavailable { .. } => {
                "A backing service (database or object store) is unreachable.".into()
            }
            AppError::InsufficientStorage { .. } => {
                "The object store is full: this upload could not be stored, and nothing of it was kept."
                    .into()
            }
            AppError::UrlNotAllowed { reason } => format!("The URL cannot be used: {reason}."),
            AppError::Internal { .. } => "The server failed to handle this request.".into(),
            AppError::Busy { what, .. } => format!("The server is busy: {what}."),
            AppError::BodyTimeout { seconds } => {
                format!("The request body sent nothing for {seconds} seconds; nothing was kept.")
            }
            AppError::BodyTooSlow {
                rate,
                min_rate,
                seconds,
            } => format!(
                "The request body averaged {rate} bytes/s over {seconds} s, under the minimum of \
                 {min_rate} bytes/s; nothing was kept."
            ),
        }
    }

    pub fn details(&self) -> Value {
        match self {
            AppError::InvalidPath { path, .. } => json!({ "path": path }),
            AppError::FileNotFound { path } | AppError::FileAlreadyExists { path } => {
                json!({ "filePath": path })
            }
            AppError::FileTooLarge { limit, declared } => {
                json!({ "maxFileSize": limit, "size": declared, "setting": "STOWAGE_MAX_FILE_SIZE" })
            }
            AppError::MimeTypeNotAllowed { mime, allowed } => {
                json!({ "mime": mime, "allowed": allowed })
            }
            AppError::RangeNotSatisfiable { size } => json!({ "size": size }),
            AppError::DigestMismatch {
                algorithm,
                expected,
                actual,
            } => json!({ "algorithm": algorithm, "expected": expected, "actual": actual }),
            AppError::InvalidTransformation { parameter, .. } => {
                json!({ "parameter": parameter })
            }
            AppError::ImageTooLarge {
                pixels,
                limit,
                what: ImageLimit::Pixels,
            } => {
                json!({ "pixels": pixels, "limit": limit, "setting": "STOWAGE_IMAGE_MAX_PIXELS" })
            }
            AppError::ImageTooLarge {
                pixels,
                limit,
                what: ImageLimit::AvifOutput,
            } => json!({ "pixels": pixels, "limit": limit, "format": "avif" }),
            AppError::PresetNotFound { name } => json!({ "preset": name }),
            AppError::FieldTooLarge { name, limit } => json!({ "field": name, "limit": limit }),
            AppError::TooManyParts { limit } => json!({ "limit": limit }),
            AppError::Busy { retry_after, .. } => json!({ "retryAfter": retry_after }),
            AppError::BodyTimeout { seconds } => {
                json!({ "seconds": seconds, "setting": "STOWAGE_BODY_TIMEOUT" })
            }
            AppError::BodyTooSlow {
                rate,
                min_rate,
                seconds,
            } => json!({
                "rate": rate, "minRate": min_rate, "seconds": seconds,
                "setting": "STOWAGE_BODY_MIN_RATE"
            }),
            AppError::AccountMismatch { url_account } => json!({ "accountId": url_account }),
            AppError::PathMismatch { expected, got } => {
                json!({ "expected": expected, "path": got })
            }
            AppError::Tus(TusError::OffsetMismatch { expected, got }) => {
                json!({ "uploadOffset": expected, "requested": got })
            }
            AppError::Tus(TusError::PastLength { length }) => json!({ "uploadLength": length }),
            _ => json!({}),
        }
    }

    /// A copy of an error several waiters of one cache load share: the kinds a
    /// load can fail with keep their identity, anything else becomes internal.
    pub fn duplicate(&self) -> AppError {
        match self {
            AppError::Unavailable { cause } => AppError::Unavailable {
                cause: cause.clone(),
            },
            AppError::NotFound { what } => AppError::NotFound { what: what.clone() },
            other => AppError::internal(other),
        }
    }

    /// Seconds for `Retry-After`, when the error carries one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Unavailable { .. } => Some(2),
            AppError::Busy { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The SPEC §8 body.
    pub fn body(&self) -> Value {
        json!({ "error": {
            "code": self.code(),
            "message": self.message(),
            "suggestion": self.suggestion(),
            "details": self.details(),
        }})
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal { cause } => tracing::error!(error.cause = %cause, "internal error"),
            AppError::Unavailable { cause } => {
                tracing::warn!(error.cause = %cause, "backing service unavailable")
            }
            AppError::InsufficientStorage { cause } => {
                tracing::error!(error.cause = %cause, "object store full")
            }
            _ => {}
        }
        let mut resp = (status, axum::Json(self.body())).into_response();
        let headers = resp.headers_mut();
        if let Some(v) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(v));
        }
        if let AppError::RangeNotSatisfiable { size } = self {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// Prefix of the cause of a transaction that lost to a concurrent one.
const CONTENTION: &str = "transaction contention: ";

impl AppError {
    /// Whether a metadata transaction lost a deadlock or serialization race
    /// and may simply be run again.
    pub fn is_contention(&self) -> bool {
        matches!(self, AppError::Unavailable { cause } if cause.starts_with(CONTENTION))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => AppError::Unavailable {
                cause: e.to_string(),
            },
            // PostgreSQL deadlock / serialization failure: the metadata layer
            // retries the transaction (`meta::contended`).
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| matches!(&*c, "40P01" | "40001")) =>
            {
                AppError::Unavailable {
                    cause: format!("{CONTENTION}{e}"),
                }
            }
            // PostgreSQL connection exceptions (08xxx); SQLite busy/locked (5, 6, 517).
            sqlx::Error::Database(ref db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || matches!(&*c, "5" | "6" | "517")) =>
            {
                AppError::Unavailable {
                    cause: e.to_string(),
                }
            }
            other => AppError::internal(other),
        }
    }
}
