//! Files (SPEC §7): details, delete, copy, move, restore, versions.

use super::openapi::FileDetails;
use super::{file_details, AppJson, AppPath, AppQuery};
use crate::auth::Principal;
use crate::domain::files;
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_file))
        .routes(routes!(get_file_details))
        .routes(routes!(copy_file))
        .routes(routes!(move_file))
        .routes(routes!(restore_file))
        .routes(routes!(search_files))
        .routes(routes!(list_file_versions))
        .routes(routes!(create_signed_url))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct FilePathQuery {
    file_path: String,
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/files/details",
    tag = "files",
    summary = "File details",
    params(("account" = String, Path, description = "Account ID"), FilePathQuery),
    responses(
        (status = 200, description = "FileDetails", body = FileDetails),
        super::responses::Common
    ),
)]
async fn get_file_details(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FilePathQuery>,
    principal: Principal,
) -> AppResult<Json<FileDetails>> {
    let row = files::details(&state, &principal, &account, &q.file_path).await?;
    Ok(Json(file_details(&state, &row)))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/files",
    tag = "files",
    summary = "Delete a file",
    params(("account" = String, Path, description = "Account ID"), FilePathQuery),
    responses(
        (status = 204, description = "Deleted"),
        super::responses::Common
    ),
)]
async fn delete_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FilePathQuery>,
    principal: Principal,
) -> AppResult<StatusCode> {
    files::delete(&state, &principal, &account, &q.file_path).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a copy or a move did.
#[derive(Serialize, ToSchema)]
struct Done {
    /// `Copied` or `Moved`.
    status: &'static str,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CopyRequest {
    source: String,
    destination: String,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/files/copy",
    tag = "files",
    summary = "Copy a file",
    params(("account" = String, Path, description = "Account ID")),
    request_body = CopyRequest,
    responses(
        (status = 200, description = "Copied", body = Done),
        super::responses::WithConflict
    ),
)]
async fn copy_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CopyRequest>,
) -> AppResult<Json<Done>> {
    files::copy(
        &state,
        &principal,
        &account,
        &body.source,
        &body.destination,
    )
    .await?;
    Ok(Json(Done { status: "Copied" }))
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/files/move",
    tag = "files",
    summary = "Move a file with its history (stowage's own)",
    request_body = CopyRequest,
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Moved", body = Done),
        super::responses::WithConflict
    ),
)]
async fn move_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CopyRequest>,
) -> AppResult<Json<Done>> {
    files::move_file(
        &state,
        &principal,
        &account,
        &body.source,
        &body.destination,
    )
    .await?;
    Ok(Json(Done { status: "Moved" }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RestoreRequest {
    file_path: String,
    version_id: String,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/files/restore",
    tag = "files",
    summary = "Make an older version current (stowage's own)",
    request_body = RestoreRequest,
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "The file, its restored version current", body = FileDetails),
        super::responses::Common
    ),
)]
async fn restore_file(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<RestoreRequest>,
) -> AppResult<Json<FileDetails>> {
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

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/files/search",
    tag = "files",
    summary = "Search files (stowage's own)",
    params(("account" = String, Path, description = "Account ID"), ("folderPath" = Option<String>, Query, description = "The folder searched (default /)"), ("recursive" = Option<bool>, Query, description = "Below the folder too (default true)"), ("q" = Option<String>, Query, description = "A case-insensitive substring of the file name"), ("mime" = Option<String>, Query, description = "A type pattern such as image/*"), ("minSize" = Option<i64>, Query, description = "Bytes, inclusive"), ("maxSize" = Option<i64>, Query, description = "Bytes, inclusive"), ("from" = Option<i64>, Query, description = "lastModified from (epoch ms)"), ("to" = Option<i64>, Query, description = "lastModified to (epoch ms)"), ("tag" = Option<String>, Query, description = "A tag the file has"), ("sort" = Option<String>, Query, description = "name, size or lastModified"), ("order" = Option<String>, Query, description = "asc or desc"), ("cursor" = Option<String>, Query, description = "From the previous page"), ("limit" = Option<u32>, Query, description = "Items per page (default 50, at most 1000)")),
    responses(
        (status = 200, description = "A page of matching files", body = SearchResults),
        super::responses::Common
    ),
)]
async fn search_files(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<crate::domain::search::SearchParams>,
    principal: Principal,
) -> AppResult<Json<SearchResults>> {
    let page = crate::domain::search::search(&state, &principal, &account, q).await?;
    let items = page.items.iter().map(|f| file_details(&state, f)).collect();
    Ok(Json(SearchResults {
        items,
        cursor: page.cursor,
        total: page.total,
    }))
}

/// A page of search results.
#[derive(Serialize, ToSchema)]
struct SearchResults {
    items: Vec<FileDetails>,
    /// For the next page; null on the last.
    cursor: Option<String>,
    /// Matching files in all pages.
    total: i64,
}

/// One kept version of a file.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Version {
    version_id: String,
    etag: String,
    size: i64,
    /// Milliseconds since the epoch.
    last_modified: i64,
}

/// A file's versions, newest first.
#[derive(Serialize, ToSchema)]
struct Versions {
    versions: Vec<Version>,
}

/// A signed CDN URL.
#[derive(Serialize, ToSchema)]
struct SignedUrl {
    url: String,
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/files/versions",
    tag = "files",
    summary = "A file's versions",
    params(("account" = String, Path, description = "Account ID"), FilePathQuery),
    responses(
        (status = 200, description = "Versions", body = Versions),
        super::responses::Common
    ),
)]
async fn list_file_versions(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FilePathQuery>,
    principal: Principal,
) -> AppResult<Json<Versions>> {
    let versions = files::versions(&state, &principal, &account, &q.file_path).await?;
    let versions = versions
        .into_iter()
        .map(|v| Version {
            version_id: v.version_id,
            etag: v.etag,
            size: v.size,
            last_modified: v.created_at,
        })
        .collect();
    Ok(Json(Versions { versions }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SignedUrlRequest {
    file_path: String,
    #[serde(alias = "expires_in")]
    expires_in: Option<i64>,
    version_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/files/signed_url",
    tag = "files",
    summary = "A signed CDN URL",
    params(("account" = String, Path, description = "Account ID")),
    request_body = SignedUrlRequest,
    responses(
        (status = 200, description = "Signed URL", body = SignedUrl),
        super::responses::Common
    ),
)]
async fn create_signed_url(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<SignedUrlRequest>,
) -> AppResult<Json<SignedUrl>> {
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
    Ok(Json(SignedUrl { url }))
}
