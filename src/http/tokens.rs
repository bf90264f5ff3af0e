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
use serde_json::{json, Value};
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
    request_body = Object,
    responses(
        (status = 200, description = "The token", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn create_upload_token(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<Value>> {
    let issued = tokens::create(&state, &principal, &account, body).await?;
    Ok(Json(token_json(&issued)))
}

fn token_json(t: &IssuedToken) -> Value {
    let expires_at = chrono::DateTime::from_timestamp_millis(t.expires_at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    json!({ "token": t.token, "path": t.path, "expires_at": expires_at })
}

/// The alias: the account is the key's.
#[utoipa::path(
    post,
    path = "/token",
    tag = "uploads",
    summary = "Create an upload token for the calling key",
    request_body = Object,
    responses(
        (status = 200, description = "The token", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn create_token_for_key(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<Value>> {
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
        (status = 200, description = "Uploaded", body = super::openapi::UploadResponse),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 413, description = "Too large", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn upload_with_token(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<Value>> {
    let form = Form::new(
        &headers,
        body,
        "Send a form with fields path (and bucket), then file.",
    );
    let row = tokens::upload_form(&state, principal, form).await?;
    Ok(Json(json!({
        "url": file_url(&state, &row.account_id, &row.path),
        "path": row.path,
        "size": row.size,
        "mime": row.mime,
        "etag": row.etag,
    })))
}
