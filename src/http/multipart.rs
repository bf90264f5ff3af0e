//! Multipart uploads (SPEC §5.3): begin, part URLs, part bytes, confirmations.

use super::openapi::{FileDetails, Metadata};
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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
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
    request_body = BeginRequest,
    responses(
        (status = 200, description = "The upload and its first part", body = Begun),
        super::responses::Upload
    ),
)]
async fn begin_multipart_upload(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<BeginRequest>,
) -> AppResult<Json<Begun>> {
    let begun = multipart::begin(&state, &principal, &account, body).await?;
    let (s, spec) = (&begun.session, &begun.spec.file);
    Ok(Json(Begun {
        upload_id: s.id.clone(),
        upload_parts: Parts {
            count: s.part_count,
            first: part_json(&state, &begun.first),
        },
        file: FileDetails {
            file_url: super::file_url(&state, &account, &spec.path),
            account_id: account,
            file_path: spec.path.clone(),
            etag: None,
            size: s.size,
            mime: spec.mime.clone(),
            original_file_name: spec.original_file_name.clone(),
            last_modified: s.created_at,
            metadata: Metadata(spec.metadata.clone()),
            tags: spec.tags.clone(),
        },
    }))
}

/// BeginMultipartUpload's answer: the upload, its first part, and the file
/// it will become.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Begun {
    upload_id: String,
    upload_parts: Parts,
    file: FileDetails,
}

#[derive(Serialize, ToSchema)]
struct Parts {
    count: i64,
    first: Part,
}

/// A part as the SDK reads it: its byte range and where to PUT it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Part {
    upload_id: String,
    upload_part_index: u64,
    range: PartRange,
    /// Absolute; signed (no credentials needed).
    upload_url: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PartRange {
    inclusive_start: u64,
    inclusive_end: i64,
}

/// A part's confirmation; `etag` once the last part completes the file.
#[derive(Serialize, ToSchema)]
struct Confirmation {
    /// `Pending` or `Completed`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
}

/// The parts not confirmed yet.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Remaining {
    remaining_upload_parts: Vec<i64>,
}

/// A part with its `uploadUrl` absolute.
fn part_json(state: &AppState, t: &PartTicket) -> Part {
    Part {
        upload_id: t.upload_id.clone(),
        upload_part_index: t.index,
        range: PartRange {
            inclusive_start: t.inclusive_start,
            inclusive_end: t.inclusive_end,
        },
        upload_url: match &t.upload_url {
            UploadUrl::Stowage(path) => format!("{}{path}", state.public_url),
            UploadUrl::Store(url) => url.clone(),
        },
    }
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}",
    tag = "uploads",
    summary = "A part's range and upload URL",
    params(("account" = String, Path, description = "Account ID"), ("upload_id" = String, Path), ("index" = String, Path)),
    responses(
        (status = 200, description = "The part", body = Part),
        super::responses::Common
    ),
)]
async fn get_upload_part(
    State(state): State<AppState>,
    AppPath((account, upload_id, index)): AppPath<(String, String, u64)>,
    principal: Principal,
) -> AppResult<Json<Part>> {
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
        (status = 200, description = "Pending, or Completed with the file's etag", body = Confirmation),
        super::responses::Common
    ),
)]
async fn complete_upload_part(
    State(state): State<AppState>,
    AppPath((account, upload_id, index)): AppPath<(String, String, u64)>,
    principal: Principal,
    AppJson(body): AppJson<CompletePart>,
) -> AppResult<Json<Confirmation>> {
    let out = multipart::complete_part(&state, &principal, &account, &upload_id, index, &body.etag)
        .await?;
    Ok(Json(match out {
        Confirmed::Pending => Confirmation {
            status: "Pending",
            etag: None,
        },
        Confirmed::Completed { etag } => Confirmation {
            status: "Completed",
            etag: Some(etag),
        },
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
        super::responses::Common
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
        (status = 200, description = "Parts", body = Remaining),
        super::responses::Common
    ),
)]
async fn list_upload_parts(
    State(state): State<AppState>,
    AppPath((account, upload_id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<Json<Remaining>> {
    let remaining = multipart::remaining_parts(&state, &principal, &account, &upload_id).await?;
    Ok(Json(Remaining {
        remaining_upload_parts: remaining,
    }))
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
        (status = 200, description = "Stored", headers(("ETag" = String, description = "The part's entity tag (quoted), for CompleteUploadPart"))),
        super::responses::UploadPart
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
