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
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/upload_tokens",
            post(create_upload_token),
        )
        .route("/token", post(create_token_for_key))
        .route("/", post(upload_with_token))
}

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
