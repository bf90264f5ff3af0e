//! ImageKit-compatible upload routes (SPEC §5.5), answering in ImageKit's
//! shapes: success as ImageKit's file object, errors as `{message, help}`.

use super::form::Form;
use crate::auth::Principal;
use crate::domain::imagekit::{self, Version};
use crate::domain::paths;
use crate::error::AppError;
use crate::meta::FileRow;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_v1))
        .routes(routes!(upload_v2))
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

#[utoipa::path(
    post,
    path = "/api/v1/files/upload",
    tag = "imagekit",
    summary = "ImageKit upload (v1)",
    request_body(content = Object, content_type = "multipart/form-data", description = "file, fileName and ImageKit's optional fields"),
    responses(
        (status = 200, description = "ImageKit upload response", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 413, description = "Too large", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
    security(("basic" = [])),
)]
async fn upload_v1(
    state: State<AppState>,
    principal: Result<Principal, AppError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ImageKitError> {
    upload(state, Version::V1, principal?, headers, body).await
}

#[utoipa::path(
    post,
    path = "/api/v2/files/upload",
    tag = "imagekit",
    summary = "ImageKit upload (v2)",
    request_body(content = Object, content_type = "multipart/form-data", description = "file, fileName and ImageKit's optional fields"),
    responses(
        (status = 200, description = "ImageKit upload response", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 413, description = "Too large", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
    security(("basic" = [])),
)]
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
    let form = Form::new(
        &headers,
        body,
        "Send the upload as multipart/form-data with file and fileName fields.",
    );
    let row = imagekit::upload(&state, version, principal, form).await?;
    Ok(Json(response(&state, &row)).into_response())
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
