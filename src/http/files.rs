//! Files (SPEC §7): details, delete, copy, move, restore, versions.

use super::{file_details, AppJson, AppPath, AppQuery};
use crate::auth::Principal;
use crate::domain::files;
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/files",
            axum::routing::delete(delete_file),
        )
        .route(
            "/v2/accounts/{account}/files/details",
            get(get_file_details),
        )
        .route("/v2/accounts/{account}/files/copy", post(copy_file))
        .route("/v2/accounts/{account}/files/move", post(move_file))
        .route("/v2/accounts/{account}/files/search", get(search_files))
        .route("/v2/accounts/{account}/files/restore", post(restore_file))
        .route(
            "/v2/accounts/{account}/files/versions",
            get(list_file_versions),
        )
        .route(
            "/v2/accounts/{account}/files/signed_url",
            post(create_signed_url),
        )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilePathQuery {
    file_path: String,
}

async fn get_file_details(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FilePathQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let row = files::details(&state, &principal, &account, &q.file_path).await?;
    Ok(Json(file_details(&state, &row)))
}

async fn delete_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FilePathQuery>,
    principal: Principal,
) -> AppResult<StatusCode> {
    files::delete(&state, &principal, &account, &q.file_path).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CopyRequest {
    source: String,
    destination: String,
}

async fn copy_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CopyRequest>,
) -> AppResult<Json<Value>> {
    files::copy(
        &state,
        &principal,
        &account,
        &body.source,
        &body.destination,
    )
    .await?;
    Ok(Json(json!({ "status": "Copied" })))
}

async fn move_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CopyRequest>,
) -> AppResult<Json<Value>> {
    files::move_file(
        &state,
        &principal,
        &account,
        &body.source,
        &body.destination,
    )
    .await?;
    Ok(Json(json!({ "status": "Moved" })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestoreRequest {
    file_path: String,
    version_id: String,
}

async fn restore_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<RestoreRequest>,
) -> AppResult<Json<Value>> {
    let row = files::restore(
        &state,
        &principal,
        &account,
        &body.file_path,
        &body.version_id,
    )
    .await?;
    Ok(Json(file_details(&state, &row)))
}

async fn search_files(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<crate::domain::search::SearchParams>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let page = crate::domain::search::search(&state, &principal, &account, q).await?;
    let items: Vec<Value> = page.items.iter().map(|f| file_details(&state, f)).collect();
    Ok(Json(
        json!({ "items": items, "cursor": page.cursor, "total": page.total }),
    ))
}

async fn list_file_versions(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FilePathQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let versions = files::versions(&state, &principal, &account, &q.file_path).await?;
    let items: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "versionId": v.version_id,
                "etag": v.etag,
                "size": v.size,
                "lastModified": v.created_at,
            })
        })
        .collect();
    Ok(Json(json!({ "versions": items })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedUrlRequest {
    file_path: String,
    #[serde(alias = "expires_in")]
    expires_in: Option<i64>,
    version_id: Option<String>,
}

async fn create_signed_url(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<SignedUrlRequest>,
) -> AppResult<Json<Value>> {
    let link = files::signed_link(
        &state,
        &principal,
        &account,
        &body.file_path,
        body.expires_in,
        body.version_id.as_deref(),
    )
    .await?;
    let url = format!(
        "{}?{}&versionId={}",
        super::file_url(&state, &account, &body.file_path),
        link.query,
        link.version_id,
    );
    Ok(Json(json!({ "url": url })))
}
