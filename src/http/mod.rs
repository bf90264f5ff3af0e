//! HTTP: one module per resource, each exporting `router()`. Handlers stay thin:
//! extract, call one domain function, shape the response.

pub mod accounts;
pub mod cdn;
pub mod cors;
pub mod dashboard;
pub mod edge;
pub mod files;
pub mod folders;
pub mod form;
pub mod health;
pub mod imagekit;
pub mod images;
pub mod keys;
pub mod limits;
pub mod multipart;
pub mod openapi;
pub mod rates;
pub mod responses;
pub mod session;
pub mod tokens;
pub mod tus;
pub mod upload_hook;
pub mod uploads;
pub mod webhooks;

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

/// `axum::Json` whose rejection is an [`AppError`] (SPEC §8 body, not plain text).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct AppJson<T>(pub T);

/// `axum::extract::Query` with an [`AppError`] rejection.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct AppQuery<T>(pub T);

/// `axum::extract::Path` with an [`AppError`] rejection (`…/parts/abc` is a
/// SPEC §8 JSON 400, not axum's plain text).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::invalid_request(
            format!("The URL is not valid: {}", r.body_text()),
            "Check the URL's segments (e.g. part indexes are whole numbers) against the README.",
        )
    }
}

/// The principal of an API request: whatever the auth layer makes of its
/// carriers (a principal a layer already attached, e.g. the dashboard's
/// session, wins).
impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Principal> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        state
            .auth
            .principal(&parts.headers, parts.uri.query())
            .await
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        AppError::invalid_request(
            format!("The JSON body is not valid: {}", r.body_text()),
            "Send 'Content-Type: application/json' and a body matching the documented fields.",
        )
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::invalid_request(
            format!("The query string is not valid: {}", r.body_text()),
            "Check the query parameter names and values against the README.",
        )
    }
}

/// `<public>/<account>/raw<filePath>`, percent-encoded.
pub fn file_url(state: &AppState, account: &str, path: &str) -> String {
    crate::domain::paths::file_url(&state.public_url, account, path)
}

/// The FileDetails object of SPEC §7.
pub fn file_details(state: &AppState, f: &FileRow) -> openapi::FileDetails {
    openapi::FileDetails {
        account_id: f.account_id.clone(),
        file_path: f.path.clone(),
        file_url: file_url(state, &f.account_id, &f.path),
        etag: Some(f.etag.clone()),
        size: f.size,
        mime: f.mime.clone(),
        original_file_name: f.original_file_name.clone(),
        last_modified: f.created_at,
        metadata: openapi::Metadata::parse(&f.metadata),
        tags: serde_json::from_str(&f.tags).unwrap_or_default(),
    }
}

/// The BasicUploadResponse: `{accountId, etag, filePath, fileUrl}`, plus the
/// `size` and `mime` SPEC §5 adds to every upload response.
pub fn upload_response(state: &AppState, f: &FileRow) -> openapi::UploadResponse {
    openapi::UploadResponse {
        account_id: f.account_id.clone(),
        etag: f.etag.clone(),
        file_path: f.path.clone(),
        file_url: file_url(state, &f.account_id, &f.path),
        size: f.size,
        mime: f.mime.clone(),
    }
}

/// A header's value as text, if present and valid.
pub fn header_str<K: axum::http::header::AsHeaderName>(
    headers: &HeaderMap,
    name: K,
) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The digests a request declares for its content (`Content-Digest`,
/// `Repr-Digest`; RFC 9530): None when it sends neither, 400 when they are
/// malformed or name no algorithm stowage knows.
pub fn request_digest(headers: &HeaderMap) -> AppResult<Option<crate::blobs::digest::Expected>> {
    let field = |name: &str| -> AppResult<Option<&str>> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).map_err(|_| {
                AppError::invalid_request(
                    format!("The {name} header is not ASCII."),
                    "Send e.g. sha-256=:<base64 of the SHA-256>: (RFC 9530).",
                )
            }),
        }
    };
    crate::blobs::digest::Expected::from_fields(field("content-digest")?, field("repr-digest")?)
}

/// The declared `Content-Length`, if any (400 when it is not a number).
pub fn content_length(headers: &HeaderMap) -> AppResult<Option<u64>> {
    match header_str(headers, header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            AppError::invalid_request(
                "Content-Length is not a number.",
                "Send a valid Content-Length.",
            )
        }),
    }
}
