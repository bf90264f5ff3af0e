//! Upload tokens (SPEC §5.4): `POST /v2/accounts/{acc}/upload_tokens`, the
//! short alias `POST /token`, and the upload itself, `POST /` (multipart:
//! `path`, `bucket?`, then `file`).

use super::form::Form;
use super::{file_url, AppJson, AppPath};
use crate::auth::rules::Op;
use crate::auth::{Principal, Via};
use crate::domain::ingest::detached;
use crate::domain::paths::PathSpec;
use crate::domain::tokens::{self, scoped_path, IssuedToken, TokenRequest};
use crate::domain::uploads::{self, UploadRequest};
use crate::error::{AppError, AppResult};
use crate::meta::UploadTokenRow;
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

/// `POST /` with an upload token or an API key. With a token, the token is
/// spent before the body is read; the `path` (and `bucket`) fields must come
/// before `file`, and must name the token's path exactly (or be left out).
async fn upload_with_token(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<Value>> {
    let (account, token, principal) = match &principal.via {
        Via::UploadToken { .. } => {
            let (token, scoped) = state.auth.spend_upload_token(&principal).await?;
            (token.account_id.clone(), Some(token), scoped)
        }
        _ => {
            let account = principal.account.clone().ok_or(AppError::Unauthorized)?;
            principal.require_somewhere(&account, Op::Create)?;
            (account, None, principal)
        }
    };
    let mut form = Form::new(
        &headers,
        body,
        "Send a form with fields path (and bucket), then file.",
    )?;
    let st = state.clone();
    let row = detached(async move {
        let (mut path, mut bucket) = (None::<String>, None::<String>);
        loop {
            let part = form.next().await?.ok_or_else(|| {
                AppError::invalid_request("The form has no file field.", "Add a field named file.")
            })?;
            match part.name() {
                "path" => path = Some(part.text().await?),
                "bucket" => bucket = Some(part.text().await?),
                "file" => {
                    let requested = requested_path(path.as_deref(), bucket.as_deref(), &token)?;
                    let req = UploadRequest {
                        account: account.clone(),
                        path: PathSpec {
                            file_name_variables_enabled: Some(false),
                            folder_path_variables_enabled: Some(false),
                            ..PathSpec::from_file_path(&requested)
                        },
                        original_file_name: part.file_name().map(str::to_string),
                        mime: part.content_type(),
                        max_size: token.as_ref().and_then(|t| t.max_size).map(|m| m as u64),
                        allowed_mime: token.as_ref().and_then(|t| t.mime.clone()),
                        metadata: json!({}),
                        ..UploadRequest::default()
                    };
                    if !form.has_digest() {
                        return uploads::ingest(st, principal, req, part.stream()).await;
                    }
                    // The digest covers the whole body: commit only once the
                    // rest of the form is read and the digest checks out.
                    let prepared = uploads::stage(&st, &principal, req, part.stream()).await?;
                    if let Err(e) = form.finish().await {
                        prepared.discard().await;
                        return Err(e);
                    }
                    return uploads::finish(&st, &principal, prepared).await;
                }
                _ => {}
            }
        }
    })
    .await?;
    Ok(Json(json!({
        "url": file_url(&state, &row.account_id, &row.path),
        "path": row.path,
        "size": row.size,
        "mime": row.mime,
        "etag": row.etag,
    })))
}

/// The path a `POST /` form names (`path`, under `bucket`), which must be the
/// token's exactly; a token upload may leave it out.
fn requested_path(
    path: Option<&str>,
    bucket: Option<&str>,
    token: &Option<UploadTokenRow>,
) -> AppResult<String> {
    let requested = match (path, token) {
        (Some(p), _) => scoped_path(bucket, p)?,
        (None, Some(t)) => t.path.clone(),
        (None, None) => {
            return Err(AppError::invalid_request(
                "The path field is missing (or comes after file).",
                "Send the path field before the file field.",
            ))
        }
    };
    match token {
        Some(t) if requested != t.path => Err(AppError::PathMismatch {
            expected: t.path.clone(),
            got: requested,
        }),
        _ => Ok(requested),
    }
}
