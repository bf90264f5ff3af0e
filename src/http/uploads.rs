//! Direct uploads (SPEC §5.2): `uploads/binary` (raw body) and `uploads/form_data`
//! (multipart/form-data, one or more files).

use super::form::{Form, MAX_TEXT_FIELD};
use super::openapi::{ErrorDetail, UploadResponse};
use super::{content_length, header_str, upload_response, AppJson, AppPath, AppQuery};
use crate::auth::Principal;
use crate::domain::from_url;
use crate::domain::paths::{self, validate_file_path, PathSpec};
use crate::domain::plan::Intent;
use crate::domain::uploads::{self, FormOutcome};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_binary_upload))
        .routes(routes!(post_form_data_upload))
        .routes(routes!(post_url_upload))
}

/// Where the upload goes: `filePath`, or the parts of a path spec.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct UploadQuery {
    /// The file's full path, e.g. `/photos/cat.jpg` (else folderPath + fileName).
    file_path: Option<String>,
    /// The folder to upload into (default `/uploads/{UTC_YEAR}/{UTC_MONTH}/{UTC_DAY}`, relative to the key's default folder); may use path variables.
    folder_path: Option<String>,
    /// The file's name in that folder (default `{UNIQUE_DIGITS_8}{ORIGINAL_FILE_EXT}`); may use path variables.
    file_name: Option<String>,
    /// The name to use instead when the path is taken and overwrite is not allowed (else 409).
    file_name_fallback: Option<String>,
    /// The name the file had on the uploader's machine (kept as metadata).
    original_file_name: Option<String>,
}

impl UploadQuery {
    fn path_spec(&self) -> AppResult<PathSpec> {
        Ok(match &self.file_path {
            // A full path obeys SPEC §1 as written; only folderPath may be relative.
            Some(fp) => PathSpec {
                file_name_fallback: self.file_name_fallback.clone(),
                ..PathSpec::from_file_path({
                    validate_file_path(fp)?;
                    fp
                })
            },
            None => PathSpec {
                folder_path: self.folder_path.clone(),
                file_name: self.file_name.clone(),
                file_name_fallback: self.file_name_fallback.clone(),
                ..PathSpec::default()
            },
        })
    }
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/uploads/binary",
    tag = "uploads",
    summary = "Upload a file's bytes",
    params(("account" = String, Path, description = "Account ID"), UploadQuery),
    request_body(content = inline(super::openapi::Binary), content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Uploaded", body = UploadResponse),
        super::responses::UploadWithConflict
    ),
)]
async fn post_binary_upload(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppQuery(q): AppQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<UploadResponse>> {
    let intent = Intent {
        account,
        path: Some(q.path_spec()?),
        original_file_name: q.original_file_name.clone(),
        mime: header_str(&headers, header::CONTENT_TYPE).map(str::to_string),
        declared_size: content_length(&headers)?,
        metadata: upload_metadata(&headers)?,
        tags: upload_tags(&headers)?,
        ..Intent::default()
    };
    let digest = super::request_digest(&headers)?;
    let body = body.into_data_stream();
    let row = uploads::binary(&state, principal, intent, body, digest).await?;
    Ok(Json(upload_response(&state, &row)))
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/uploads/form_data",
    tag = "uploads",
    summary = "Upload files from a form",
    params(("account" = String, Path, description = "Account ID"), UploadQuery),
    request_body(content = Object, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Uploaded files and errors", body = FormUploaded),
        super::responses::Upload
    ),
)]
async fn post_form_data_upload(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppQuery(q): AppQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<FormUploaded>> {
    let base = Intent {
        account,
        path: Some(q.path_spec()?),
        original_file_name: q.original_file_name.clone(),
        metadata: upload_metadata(&headers)?,
        tags: upload_tags(&headers)?,
        ..Intent::default()
    };
    let form = Form::new(
        &headers,
        body,
        "Post a form with enctype=\"multipart/form-data\", or use /uploads/binary for a raw body.",
    );
    let FormOutcome { files, errors } = uploads::form_data(&state, principal, base, form).await?;
    if files.is_empty() {
        return Err(match errors.into_iter().next() {
            Some((_, e)) => e,
            None => AppError::invalid_request(
                "The form has no file parts.",
                "Add an <input type=\"file\"> (a part with a filename) to the form.",
            ),
        });
    }
    Ok(Json(FormUploaded {
        files: files
            .iter()
            .map(|(name, row)| FormFile {
                form_data_field_name: name.clone(),
                file: upload_response(&state, row),
            })
            .collect(),
        errors: errors
            .iter()
            .map(|(name, e)| FormError {
                form_data_field_name: name.clone(),
                error: e.body()["error"].clone(),
            })
            .collect(),
    }))
}

/// The files of a form that were stored, and the ones that were not.
#[derive(Serialize, ToSchema)]
struct FormUploaded {
    files: Vec<FormFile>,
    errors: Vec<FormError>,
}

/// A stored file and the form field it came from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FormFile {
    form_data_field_name: String,
    #[serde(flatten)]
    file: UploadResponse,
}

/// A file part that was not stored, and why (SPEC §8's error).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FormError {
    form_data_field_name: String,
    #[schema(value_type = ErrorDetail)]
    error: Value,
}

/// `uploads/url` (SPEC §5.7): Bytescale's UploadFromUrl request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
/// Bytescale's `timeout` is accepted and ignored: the source gets 10 s for
/// its headers, then SPEC §8's pace (README).
#[serde(rename_all = "camelCase")]
struct UrlUpload {
    url: String,
    path: Option<Value>,
    mime: Option<String>,
    original_file_name: Option<String>,
    metadata: Option<Value>,
    tags: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/uploads/url",
    tag = "uploads",
    summary = "Upload from a URL",
    params(("account" = String, Path, description = "Account ID")),
    request_body = UrlUpload,
    responses(
        (status = 200, description = "Uploaded", body = UploadResponse),
        super::responses::UploadWithConflict,
        (status = 502, description = "The source failed", body = super::openapi::ErrorBody)
    ),
)]
async fn post_url_upload(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(req): AppJson<UrlUpload>,
) -> AppResult<Json<UploadResponse>> {
    let intent = Intent {
        account,
        path: Some(paths::parse_path(req.path.as_ref())?),
        original_file_name: req.original_file_name,
        mime: req.mime,
        metadata: req.metadata.unwrap_or_else(|| json!({})),
        tags: req.tags.unwrap_or_default(),
        ..Intent::default()
    };
    let row = from_url::upload(&state, principal, &req.url, intent).await?;
    Ok(Json(upload_response(&state, &row)))
}

fn upload_metadata(headers: &HeaderMap) -> AppResult<Value> {
    let Some(raw) = header_str(headers, "x-upload-metadata") else {
        return Ok(json!({}));
    };
    bounded("X-Upload-Metadata", raw)?;
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(AppError::invalid_request(
            "X-Upload-Metadata must be a JSON object.",
            "Send e.g. 'X-Upload-Metadata: {\"userId\": 42}'.",
        )),
    }
}

fn upload_tags(headers: &HeaderMap) -> AppResult<Vec<String>> {
    let raw = header_str(headers, "x-upload-tags").unwrap_or("");
    bounded("X-Upload-Tags", raw)?;
    Ok(raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Metadata and tags are at most [`MAX_TEXT_FIELD`] bytes (SPEC §8).
fn bounded(name: &str, value: &str) -> AppResult<()> {
    if value.len() > MAX_TEXT_FIELD {
        return Err(AppError::FieldTooLarge {
            name: name.to_string(),
            limit: MAX_TEXT_FIELD,
        });
    }
    Ok(())
}
