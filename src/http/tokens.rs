//! Upload tokens (SPEC §5.4): `POST /v2/accounts/{acc}/upload_tokens`, the
//! short alias `POST /token`, and the upload itself, `POST /` (multipart:
//! `path`, `bucket?`, then `file`).

use super::form::Form;
use super::{file_url, AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::tokens::{self, IssuedToken, TokenRequest};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_upload_token))
        .routes(routes!(create_token_for_key))
        .routes(routes!(upload_with_token))
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/upload_tokens",
    tag = "uploads",
    summary = "Create a single-use upload token",
    params(("account" = String, Path, description = "Account ID")),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The token", body = Token),
        super::responses::Common
    ),
)]
async fn create_upload_token(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<Token>> {
    let issued = tokens::create(&state, &principal, &account, body).await?;
    Ok(Json(token_json(&issued)))
}

/// A single-use upload token.
#[derive(Serialize, ToSchema)]
struct Token {
    /// `token_…`, the credential of one `POST /`.
    token: String,
    /// The file path it uploads to.
    path: String,
    /// RFC 3339, UTC.
    expires_at: String,
}

fn token_json(t: &IssuedToken) -> Token {
    Token {
        token: t.token.clone(),
        path: t.path.clone(),
        expires_at: chrono::DateTime::from_timestamp_millis(t.expires_at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
    }
}

/// What a token upload stored.
#[derive(Serialize, ToSchema)]
struct TokenUpload {
    /// The file's CDN URL.
    url: String,
    path: String,
    size: i64,
    mime: String,
    etag: String,
}

/// The alias: the account is the key's.
#[utoipa::path(
    post,
    path = "/token",
    tag = "uploads",
    summary = "Create an upload token for the calling key",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The token", body = Token),
        super::responses::Common
    ),
)]
async fn create_token_for_key(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<Token>> {
    let account = principal.account.clone().ok_or(AppError::Unauthorized)?;
    let issued = tokens::create(&state, &principal, &account, body).await?;
    Ok(Json(token_json(&issued)))
}

/// `POST /` with an upload token or an API key.
#[utoipa::path(
    post,
    path = "/",
    tag = "uploads",
    summary = "Upload with an upload token",
    request_body(content = inline(super::openapi::Binary), content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Uploaded", body = TokenUpload),
        super::responses::Upload
    ),
)]
async fn upload_with_token(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<TokenUpload>> {
    let form = Form::new(
        &headers,
        body,
        "Send a form with fields path (and bucket), then file.",
    );
    let row = tokens::upload_form(&state, principal, form).await?;
    Ok(Json(TokenUpload {
        url: file_url(&state, &row.account_id, &row.path),
        path: row.path,
        size: row.size,
        mime: row.mime,
        etag: row.etag,
    }))
}
