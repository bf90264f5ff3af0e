//! ImageKit-compatible upload routes (SPEC §5.5), answering in ImageKit's
//! shapes: success as ImageKit's file object, errors as `{message, help}`.

use super::multipart_boundary;
use super::uploads::multipart_error;
use crate::auth::Principal;
use crate::domain::imagekit::{self, Staged, Version};
use crate::domain::uploads::discard;
use crate::error::AppError;
use crate::state::{AppState, ANONYMOUS_STAGING_LIMIT};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use futures::TryStreamExt;
use serde_json::json;
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
        (status, Json(body)).into_response()
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
    let boundary = multipart_boundary(
        &headers,
        "Send the upload as multipart/form-data with file and fileName fields.",
    )?;
    // Before its token is checked, an anonymous upload stages at most
    // ANONYMOUS_STAGING_LIMIT bytes, and only a few at a time.
    let anonymous = principal.account.is_none();
    let limit = if anonymous {
        state.config.max_file_size.min(ANONYMOUS_STAGING_LIMIT)
    } else {
        state.config.max_file_size
    };
    let st = state.clone();
    // The whole form is read in one task: the file part may come first, so it
    // is staged into a blob and committed only once every field checks out.
    let row = tokio::spawn(async move {
        let _slot = if anonymous {
            Some(st.anonymous_staging.acquire().await.map_err(AppError::internal)?)
        } else {
            None
        };
        let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut fields = BTreeMap::new();
        let mut staged: Option<Staged> = None;
        let result = async {
            while let Some(field) = form.next_field().await.map_err(multipart_error)? {
                let name = field.name().unwrap_or("").to_string();
                if name == "file" && staged.is_none() {
                    let file_name = field.file_name().map(str::to_string);
                    let ct = field.content_type().map(|m| m.to_string());
                    if file_name.is_some() {
                        let stream = field.map_err(|e| multipart_error(e).to_string());
                        staged = Some(imagekit::stage(&st, stream, limit, file_name, ct).await?);
                    } else {
                        // A text `file` field: base64 (data URLs too); remote URLs are not fetched.
                        let text = field.text().await.map_err(multipart_error)?;
                        let data = text.split_once(";base64,").map(|(_, d)| d).unwrap_or(&text);
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(data.trim())
                            .map_err(|_| {
                                AppError::invalid_request(
                                    "The file field is neither a file nor base64 data.",
                                    "Send the file as a file part, or base64; remote URLs are not fetched.",
                                )
                            })?;
                        let once = futures::stream::once(async move {
                            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(bytes))
                        });
                        staged = Some(imagekit::stage(&st, once, limit, None, None).await?);
                    }
                } else {
                    fields.insert(name, field.text().await.map_err(multipart_error)?);
                }
            }
            let staged_ref = staged.as_ref().ok_or_else(|| {
                AppError::invalid_request("Missing file parameter for upload.", "Send the file field.")
            })?;
            imagekit::finish(&st, version, &principal, &fields, staged_ref).await
        }
        .await;
        if let Some(s) = &staged {
            discard(&st, &s.blob_key).await;
        }
        result
    })
    .await
    .map_err(AppError::internal)??;
    Ok(Json(imagekit::response(&state, &row)).into_response())
}
