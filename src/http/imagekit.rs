//! ImageKit-compatible upload routes (SPEC §5.5), answering in ImageKit's
//! shapes: success as ImageKit's file object, errors as `{message, help}`.

use super::form::{Form, Part};
use crate::auth::{Principal, Via};
use crate::domain::imagekit::{self, Staged, Version};
use crate::domain::ingest::detached;
use crate::domain::paths;
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::{AppState, ANONYMOUS_STAGING_LIMIT};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/files/upload", post(upload_v1))
        .route("/api/v2/files/upload", post(upload_v2))
}

/// An [`AppError`] in ImageKit's error shape (same status).
pub struct ImageKitError(AppError);

impl From<AppError> for ImageKitError {
    fn from(e: AppError) -> Self {
        ImageKitError(e)
    }
}

impl IntoResponse for ImageKitError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if let AppError::Internal { cause } = &self.0 {
            tracing::error!(error.cause = %cause, "internal error");
        }
        let body = json!({ "message": self.0.message(), "help": self.0.suggestion() });
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = self.0.retry_after() {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

async fn upload_v1(
    state: State<AppState>,
    principal: Result<Principal, AppError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ImageKitError> {
    upload(state, Version::V1, principal?, headers, body).await
}

async fn upload_v2(
    state: State<AppState>,
    principal: Result<Principal, AppError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ImageKitError> {
    upload(state, Version::V2, principal?, headers, body).await
}

async fn upload(
    State(state): State<AppState>,
    version: Version,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ImageKitError> {
    let mut form = Form::new(
        &headers,
        body,
        "Send the upload as multipart/form-data with file and fileName fields.",
    )?;
    // Before its token is checked, an upload without a key stages at most
    // ANONYMOUS_STAGING_LIMIT bytes, and only a few at a time. An upload token
    // is no key here: these routes take ImageKit's client tokens instead.
    let anonymous = principal.account.is_none() || matches!(principal.via, Via::UploadToken { .. });
    let limit = if anonymous {
        state.config.max_file_size.min(ANONYMOUS_STAGING_LIMIT)
    } else {
        state.config.max_file_size
    };
    // A slot is taken before any body byte is read; when every slot is in use
    // the upload is refused at once (429 `busy`), never queued.
    let slot = if anonymous {
        Some(
            state
                .anonymous_staging
                .clone()
                .try_acquire_owned()
                .map_err(|_| AppError::Busy {
                    what: "too many uploads without credentials are in progress".into(),
                    retry_after: 5,
                })?,
        )
    } else {
        None
    };
    let st = state.clone();
    // The whole form is read in one task: the file part may come first, so it
    // is staged into a blob and committed only once every field checks out.
    let row = detached(async move {
        let _slot = slot;
        let mut fields = BTreeMap::new();
        let mut staged: Option<Staged> = None;
        while let Some(part) = form.next().await? {
            let name = part.name().to_string();
            if name == "file" && staged.is_none() {
                staged = Some(stage(&st, part, limit).await?);
            } else {
                fields.insert(name, part.text().await?);
            }
        }
        let staged = staged.ok_or_else(|| {
            AppError::invalid_request("Missing file parameter for upload.", "Send the file field.")
        })?;
        let result = imagekit::finish(&st, version, &principal, &fields, &staged).await;
        staged.blob.discard().await;
        result
    })
    .await?;
    Ok(Json(response(&state, &row)).into_response())
}

/// The `file` part: a file input, or base64 text (data URLs too; remote URLs
/// are not fetched), streamed into a staged blob.
async fn stage(state: &AppState, part: Part, limit: u64) -> AppResult<Staged> {
    let file_name = part.file_name().map(str::to_string);
    if file_name.is_some() {
        let ct = part.content_type();
        imagekit::stage(state, part.stream(), limit, file_name, ct).await
    } else {
        imagekit::stage(state, part.base64_stream(), limit, None, None)
            .await
            .map_err(|e| match e {
                AppError::UploadIncomplete { message } if message.contains("base64") => {
                    AppError::invalid_request(
                        "The file field is neither a file nor base64 data.",
                        "Send the file as a file part, or base64; remote URLs are not fetched.",
                    )
                }
                other => other,
            })
    }
}

/// ImageKit's upload response.
fn response(state: &AppState, row: &FileRow) -> Value {
    let tags: Value = serde_json::from_str(&row.tags).unwrap_or(Value::Null);
    let created = chrono::DateTime::from_timestamp_millis(row.created_at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let private = serde_json::from_str::<Value>(&row.metadata)
        .ok()
        .and_then(|m| m.get("isPrivateFile").cloned())
        .unwrap_or(Value::Bool(false));
    json!({
        "fileId": row.version_id,
        "name": paths::file_name(&row.path),
        "filePath": row.path,
        "url": super::file_url(state, &row.account_id, &row.path),
        "size": row.size,
        "fileType": if row.mime.starts_with("image/") { "image" } else { "non-image" },
        "mime": row.mime,
        "versionInfo": { "id": row.version_id, "name": "Version 1" },
        "tags": if tags.as_array().is_some_and(|a| a.is_empty()) { Value::Null } else { tags },
        "isPrivateFile": private,
        "createdAt": created,
    })
}
