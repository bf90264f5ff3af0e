//! Multipart uploads (SPEC §5.3): begin, part URLs, part bytes, confirmations.

use super::{content_length, AppJson, AppPath, AppQuery};
use crate::auth::signed::UrlSignature;
use crate::auth::Principal;
use crate::domain::multipart::{self, BeginRequest, Confirmed, PartTicket, UploadUrl};
use crate::error::AppResult;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(begin_multipart_upload))
        .routes(routes!(abort_multipart_upload))
        .routes(routes!(list_upload_parts))
        .routes(routes!(get_upload_part, complete_upload_part))
        .routes(routes!(put_upload_part_bytes))
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/uploads",
    tag = "uploads",
    summary = "Begin a multipart upload",
    params(("account" = String, Path, description = "Account ID")),
    request_body = Object,
    responses(
        (status = 200, description = "The upload and its first part", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 413, description = "Too large", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn begin_multipart_upload(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<BeginRequest>,
) -> AppResult<Json<Value>> {
    let begun = multipart::begin(&state, &principal, &account, body).await?;
    let (s, spec) = (&begun.session, &begun.spec.file);
    Ok(Json(json!({
        "uploadId": s.id,
        "uploadParts": { "count": s.part_count, "first": part_json(&state, &begun.first) },
        "file": {
            "accountId": account,
            "filePath": spec.path,
            "fileUrl": super::file_url(&state, &account, &spec.path),
            "etag": Value::Null,
            "size": s.size,
            "mime": spec.mime,
            "originalFileName": spec.original_file_name,
            "lastModified": s.created_at,
            "metadata": spec.metadata,
            "tags": spec.tags,
        },
    })))
}

/// A part as the SDK reads it, its `uploadUrl` absolute.
fn part_json(state: &AppState, t: &PartTicket) -> Value {
    json!({
        "uploadId": t.upload_id,
        "uploadPartIndex": t.index,
        "range": { "inclusiveStart": t.inclusive_start, "inclusiveEnd": t.inclusive_end },
        "uploadUrl": match &t.upload_url {
            UploadUrl::Stowage(path) => format!("{}{path}", state.public_url),
            UploadUrl::Store(url) => url.clone(),
        },
    })
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}",
    tag = "uploads",
    summary = "A part's range and upload URL",
    params(("account" = String, Path, description = "Account ID"), ("upload_id" = String, Path), ("index" = String, Path)),
    responses(
        (status = 200, description = "The part", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn get_upload_part(
    State(state): State<AppState>,
    AppPath((account, upload_id, index)): AppPath<(String, String, u64)>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let ticket = multipart::get_part(&state, &principal, &account, &upload_id, index).await?;
    Ok(Json(part_json(&state, &ticket)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CompletePart {
    etag: String,
}

#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}",
    tag = "uploads",
    summary = "Complete a part",
    params(("account" = String, Path, description = "Account ID"), ("upload_id" = String, Path), ("index" = String, Path)),
    request_body = CompletePart,
    responses(
        (status = 200, description = "The upload (FileDetails when the last part completes)", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn complete_upload_part(
    State(state): State<AppState>,
    AppPath((account, upload_id, index)): AppPath<(String, String, u64)>,
    principal: Principal,
    AppJson(body): AppJson<CompletePart>,
) -> AppResult<Json<Value>> {
    let out = multipart::complete_part(&state, &principal, &account, &upload_id, index, &body.etag)
        .await?;
    Ok(Json(match out {
        Confirmed::Pending => json!({ "status": "Pending" }),
        Confirmed::Completed { etag } => json!({ "status": "Completed", "etag": etag }),
    }))
}

/// AbortMultipartUpload: 204, the session and its bytes are gone.
#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/uploads/{upload_id}",
    tag = "uploads",
    summary = "Abort a multipart upload",
    params(("account" = String, Path, description = "Account ID"), ("upload_id" = String, Path)),
    responses(
        (status = 204, description = "Aborted"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn abort_multipart_upload(
    State(state): State<AppState>,
    AppPath((account, upload_id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    multipart::abort(&state, &principal, &account, &upload_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/uploads/{upload_id}/parts",
    tag = "uploads",
    summary = "Completed parts",
    params(("account" = String, Path, description = "Account ID"), ("upload_id" = String, Path)),
    responses(
        (status = 200, description = "Parts", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn list_upload_parts(
    State(state): State<AppState>,
    AppPath((account, upload_id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let remaining = multipart::remaining_parts(&state, &principal, &account, &upload_id).await?;
    Ok(Json(json!({ "remainingUploadParts": remaining })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Signature {
    exp: Option<i64>,
    sig: Option<String>,
}

/// The part's `uploadUrl`: no credentials but the URL's signature.
#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}/bytes",
    tag = "uploads",
    summary = "Upload a part's bytes (signed URL)",
    params(("account" = String, Path, description = "Account ID"), ("upload_id" = String, Path), ("index" = String, Path), Signature),
    request_body(content = inline(super::openapi::Binary), content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored; ETag header"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 413, description = "Too large", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
    security(()),
)]
async fn put_upload_part_bytes(
    State(state): State<AppState>,
    AppPath((account, upload_id, index)): AppPath<(String, String, u64)>,
    AppQuery(q): AppQuery<Signature>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let checks = multipart::PartBody {
        declared: content_length(&headers)?,
        digest: super::request_digest(&headers)?,
    };
    let etag = multipart::put_part(
        &state,
        &account,
        &upload_id,
        index,
        UrlSignature {
            exp: q.exp,
            sig: q.sig.as_deref(),
        },
        checks,
        body.into_data_stream(),
    )
    .await?;
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}
