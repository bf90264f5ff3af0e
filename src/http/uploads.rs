//! Direct uploads (SPEC §5.2): `uploads/binary` (raw body) and `uploads/form_data`
//! (multipart/form-data, one or more files).

use super::{content_length, header_str, multipart_boundary, upload_response, AppQuery};
use crate::auth::Principal;
use crate::domain::paths::{validate_file_path, PathSpec};
use crate::domain::uploads::{self, UploadRequest};
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/uploads/binary",
            post(post_binary_upload),
        )
        .route(
            "/v2/accounts/{account}/uploads/form_data",
            post(post_form_data_upload),
        )
}

/// Where the upload goes: `filePath`, or the parts of a path spec.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadQuery {
    file_path: Option<String>,
    folder_path: Option<String>,
    file_name: Option<String>,
    file_name_fallback: Option<String>,
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

async fn post_binary_upload(
    State(state): State<AppState>,
    Path(account): Path<String>,
    principal: Principal,
    AppQuery(q): AppQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<Value>> {
    let req = UploadRequest {
        account,
        path: q.path_spec()?,
        original_file_name: q.original_file_name.clone(),
        mime: header_str(&headers, header::CONTENT_TYPE).map(str::to_string),
        declared_size: content_length(&headers)?,
        metadata: upload_metadata(&headers)?,
        tags: upload_tags(&headers),
        ..UploadRequest::default()
    };
    let row = spawn_ingest(state.clone(), principal, req, body).await?;
    Ok(Json(upload_response(&state, &row)))
}

async fn post_form_data_upload(
    State(state): State<AppState>,
    Path(account): Path<String>,
    principal: Principal,
    AppQuery(q): AppQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<Value>> {
    let boundary = multipart_boundary(
        &headers,
        "Post a form with enctype=\"multipart/form-data\", or use /uploads/binary for a raw body.",
    )?;
    let metadata = upload_metadata(&headers)?;
    let tags = upload_tags(&headers);
    let spec = q.path_spec()?;
    let st = state.clone();
    // One task reads every part, so a client that goes away mid-part still lets
    // the partial blob be cleaned up.
    let (files, errors) = tokio::spawn(async move {
        let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut files = Vec::new();
        let mut errors = Vec::new();
        loop {
            let field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(multipart_error(e)),
            };
            // A plain text field, or a file input left empty: not a file.
            let Some(file_name) = field
                .file_name()
                .filter(|n| !n.is_empty())
                .map(str::to_string)
            else {
                continue;
            };
            let field_name = field.name().unwrap_or("file").to_string();
            let req = UploadRequest {
                account: account.clone(),
                path: spec.clone(),
                original_file_name: Some(q.original_file_name.clone().unwrap_or(file_name)),
                mime: field.content_type().map(|m| m.to_string()),
                declared_size: None,
                metadata: metadata.clone(),
                tags: tags.clone(),
                ..UploadRequest::default()
            };
            let stream = field.map_err(|e| multipart_error(e).to_string());
            match uploads::ingest(st.clone(), principal.clone(), req, stream).await {
                Ok(row) => files.push((field_name, row)),
                // The rest of the body cannot be trusted after these.
                Err(e @ (AppError::FileTooLarge { .. } | AppError::UploadIncomplete { .. })) => {
                    return Err(e)
                }
                Err(e) => errors.push((field_name, e)),
            }
        }
        Ok((files, errors))
    })
    .await
    .map_err(AppError::internal)??;

    if files.is_empty() {
        return Err(match errors.into_iter().next() {
            Some((_, e)) => e,
            None => AppError::invalid_request(
                "The form has no file parts.",
                "Add an <input type=\"file\"> (a part with a filename) to the form.",
            ),
        });
    }
    Ok(Json(json!({
        "files": files.iter().map(|(name, row)| {
            let mut v = upload_response(&state, row);
            v["formDataFieldName"] = json!(name);
            v
        }).collect::<Vec<_>>(),
        "errors": errors.iter().map(|(name, e)| json!({
            "formDataFieldName": name,
            "error": e.body()["error"],
        })).collect::<Vec<_>>(),
    })))
}

/// Runs the ingest in its own task so it completes (and cleans up) even when the
/// client disconnects and this handler is dropped.
pub(crate) async fn spawn_ingest(
    state: AppState,
    principal: Principal,
    req: UploadRequest,
    body: Body,
) -> AppResult<FileRow> {
    tokio::spawn(uploads::ingest(
        state,
        principal,
        req,
        body.into_data_stream(),
    ))
    .await
    .map_err(AppError::internal)?
}

pub(crate) fn multipart_error(e: multer::Error) -> AppError {
    match e {
        multer::Error::StreamReadFailed(inner) => AppError::UploadIncomplete {
            message: format!("The request body ended early or failed: {inner}."),
        },
        other => AppError::invalid_request(
            format!("The multipart body is malformed: {other}."),
            "Send a well-formed multipart/form-data body (a browser form or curl -F does).",
        ),
    }
}

fn upload_metadata(headers: &HeaderMap) -> AppResult<Value> {
    let Some(raw) = header_str(headers, "x-upload-metadata") else {
        return Ok(json!({}));
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(AppError::invalid_request(
            "X-Upload-Metadata must be a JSON object.",
            "Send e.g. 'X-Upload-Metadata: {\"userId\": 42}'.",
        )),
    }
}

fn upload_tags(headers: &HeaderMap) -> Vec<String> {
    header_str(headers, "x-upload-tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
