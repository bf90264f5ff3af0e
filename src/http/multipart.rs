//! Multipart uploads (SPEC §5.3): begin, part URLs, part bytes, confirmations.

use super::{content_length, AppJson, AppQuery};
use crate::auth::signed::UrlSignature;
use crate::auth::Principal;
use crate::domain::multipart::{self, BeginRequest};
use crate::error::AppResult;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/uploads",
            post(begin_multipart_upload),
        )
        .route(
            "/v2/accounts/{account}/uploads/{upload_id}/parts",
            get(list_upload_parts),
        )
        .route(
            "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}",
            get(get_upload_part).put(complete_upload_part),
        )
        .route(
            "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}/bytes",
            put(put_upload_part_bytes),
        )
}

async fn begin_multipart_upload(
    State(state): State<AppState>,
    Path(account): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<BeginRequest>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        multipart::begin(&state, &principal, &account, body).await?,
    ))
}

async fn get_upload_part(
    State(state): State<AppState>,
    Path((account, upload_id, index)): Path<(String, String, u64)>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    Ok(Json(
        multipart::get_part(&state, &principal, &account, &upload_id, index).await?,
    ))
}

#[derive(Deserialize)]
struct CompletePart {
    etag: String,
}

async fn complete_upload_part(
    State(state): State<AppState>,
    Path((account, upload_id, index)): Path<(String, String, u64)>,
    principal: Principal,
    AppJson(body): AppJson<CompletePart>,
) -> AppResult<Json<Value>> {
    let out = multipart::complete_part(&state, &principal, &account, &upload_id, index, &body.etag)
        .await?;
    Ok(Json(out))
}

async fn list_upload_parts(
    State(state): State<AppState>,
    Path((account, upload_id)): Path<(String, String)>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    Ok(Json(
        multipart::remaining_parts(&state, &principal, &account, &upload_id).await?,
    ))
}

#[derive(Deserialize)]
struct Signature {
    exp: Option<i64>,
    sig: Option<String>,
}

/// The part's `uploadUrl`: no credentials but the URL's signature.
async fn put_upload_part_bytes(
    State(state): State<AppState>,
    Path((account, upload_id, index)): Path<(String, String, u64)>,
    AppQuery(q): AppQuery<Signature>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let declared = content_length(&headers)?;
    let etag = multipart::put_part(
        &state,
        &account,
        &upload_id,
        index,
        UrlSignature {
            exp: q.exp,
            sig: q.sig.as_deref(),
        },
        declared,
        body.into_data_stream(),
    )
    .await?;
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}
