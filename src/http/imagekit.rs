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
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
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
        (status = 200, description = "ImageKit upload response", body = ImageKitFile),
        super::responses::ImageKitUpload
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
        (status = 200, description = "ImageKit upload response", body = ImageKitFile),
        super::responses::ImageKitUpload
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

/// ImageKit's upload response (its file object).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ImageKitFile {
    /// The version's ID.
    file_id: String,
    name: String,
    file_path: String,
    url: String,
    size: i64,
    /// `image` or `non-image`.
    file_type: &'static str,
    mime: String,
    version_info: VersionInfo,
    /// Null when the file has none.
    tags: Option<Vec<String>>,
    is_private_file: bool,
    /// RFC 3339 with milliseconds, UTC.
    created_at: String,
}

#[derive(Serialize, ToSchema)]
struct VersionInfo {
    id: String,
    name: &'static str,
}

fn response(state: &AppState, row: &FileRow) -> ImageKitFile {
    let tags: Option<Vec<String>> = serde_json::from_str(&row.tags).ok();
    let private = serde_json::from_str::<Value>(&row.metadata)
        .ok()
        .and_then(|m| m.get("isPrivateFile").and_then(Value::as_bool))
        .unwrap_or(false);
    ImageKitFile {
        file_id: row.version_id.clone(),
        name: paths::file_name(&row.path).to_string(),
        file_path: row.path.clone(),
        url: super::file_url(state, &row.account_id, &row.path),
        size: row.size,
        file_type: match row.mime.starts_with("image/") {
            true => "image",
            false => "non-image",
        },
        mime: row.mime.clone(),
        version_info: VersionInfo {
            id: row.version_id.clone(),
            name: "Version 1",
        },
        tags: tags.filter(|t| !t.is_empty()),
        is_private_file: private,
        created_at: chrono::DateTime::from_timestamp_millis(row.created_at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default(),
    }
}
