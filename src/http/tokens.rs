//! Upload tokens (SPEC §5.4): `POST /v2/accounts/{acc}/upload_tokens`, the
//! short alias `POST /token`, and the upload itself, `POST /` (multipart:
//! `path`, `bucket?`, then `file`).

use super::multipart_boundary;
use super::uploads::multipart_error;
use super::{file_url, AppJson};
use crate::auth::{Principal, Via};
use crate::domain::paths::PathSpec;
use crate::domain::tokens::{self, scoped_path, TokenRequest};
use crate::domain::uploads::{self, UploadRequest};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use futures::TryStreamExt;
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
    Path(account): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        tokens::create(&state, &principal, &account, body).await?,
    ))
}

/// The alias: the account is the key's.
async fn create_token_for_key(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<TokenRequest>,
) -> AppResult<Json<Value>> {
    let account = principal.account.clone().ok_or(AppError::Unauthorized)?;
    Ok(Json(
        tokens::create(&state, &principal, &account, body).await?,
    ))
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
            let (token, scoped) = tokens::spend(&state, &principal).await?;
            (token.account_id.clone(), Some(token), scoped)
        }
        _ => {
            let account = principal.account.clone().ok_or(AppError::Unauthorized)?;
            (account, None, principal)
        }
    };
    let boundary = multipart_boundary(
        &headers,
        "Send a form with fields path (and bucket), then file.",
    )?;
    let st = state.clone();
    let row = tokio::spawn(async move {
        let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
        let (mut path, mut bucket) = (None::<String>, None::<String>);
        loop {
            let field = form
                .next_field()
                .await
                .map_err(multipart_error)?
                .ok_or_else(|| {
                    AppError::invalid_request(
                        "The form has no file field.",
                        "Add a field named file.",
                    )
                })?;
            match field.name() {
                Some("path") => path = Some(field.text().await.map_err(multipart_error)?),
                Some("bucket") => bucket = Some(field.text().await.map_err(multipart_error)?),
                Some("file") => {
                    let requested = match (&path, &token) {
                        (Some(p), _) => scoped_path(bucket.as_deref(), p)?,
                        (None, Some(t)) => t.path.clone(),
                        (None, None) => {
                            return Err(AppError::invalid_request(
                                "The path field is missing (or comes after file).",
                                "Send the path field before the file field.",
                            ))
                        }
                    };
                    if let Some(t) = &token {
                        if requested != t.path {
                            return Err(AppError::PathMismatch {
                                expected: t.path.clone(),
                                got: requested,
                            });
                        }
                    }
                    let req = UploadRequest {
                        account: account.clone(),
                        path: PathSpec {
                            file_name_variables_enabled: Some(false),
                            folder_path_variables_enabled: Some(false),
                            ..PathSpec::from_file_path(&requested)
                        },
                        original_file_name: field.file_name().map(str::to_string),
                        mime: field.content_type().map(|m| m.to_string()),
                        max_size: token.as_ref().and_then(|t| t.max_size).map(|m| m as u64),
                        allowed_mime: token.as_ref().and_then(|t| t.mime.clone()),
                        metadata: json!({}),
                        ..UploadRequest::default()
                    };
                    let stream = field.map_err(|e| multipart_error(e).to_string());
                    return uploads::ingest(st, principal, req, stream).await;
                }
                _ => {}
            }
        }
    })
    .await
    .map_err(AppError::internal)??;
    Ok(Json(json!({
        "url": file_url(&state, &row.account_id, &row.path),
        "path": row.path,
        "size": row.size,
        "mime": row.mime,
        "etag": row.etag,
    })))
}
