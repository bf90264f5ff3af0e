//! Folders (SPEC §7): PutFolder, GetFolderDetails, DeleteFolder, ListFolder.

use super::{AppJson, AppQuery};
use crate::auth::Principal;
use crate::domain::folders::{self, ListParams, SettingsChange};
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/folders",
            get(get_folder).put(put_folder).delete(delete_folder),
        )
        .route("/v2/accounts/{account}/folders/list", get(list_folder))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutFolder {
    folder_path: String,
    #[serde(default)]
    folder_settings: SettingsChange,
    /// Accepted and ignored (Bytescale clients send it).
    #[serde(default)]
    #[allow(dead_code)]
    allow_unnamed_folder: Option<bool>,
}

async fn put_folder(
    State(state): State<AppState>,
    Path(account): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<PutFolder>,
) -> AppResult<Json<Value>> {
    let details = folders::put(
        &state,
        &principal,
        &account,
        &body.folder_path,
        &body.folder_settings,
    )
    .await?;
    Ok(Json(details))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FolderQuery {
    folder_path: String,
}

async fn get_folder(
    State(state): State<AppState>,
    Path(account): Path<String>,
    AppQuery(q): AppQuery<FolderQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    Ok(Json(
        folders::get(&state, &principal, &account, &q.folder_path).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteFolder {
    folder_path: String,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    delete_files: bool,
    #[serde(default)]
    #[allow(dead_code)]
    delete_virtual_folders: Option<bool>,
}

async fn delete_folder(
    State(state): State<AppState>,
    Path(account): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<DeleteFolder>,
) -> AppResult<Json<Value>> {
    let out = folders::delete(
        &state,
        &principal,
        &account,
        &body.folder_path,
        body.recursive,
        body.delete_files,
    )
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    folder_path: String,
    cursor: Option<String>,
    limit: Option<i64>,
    #[serde(default)]
    recursive: bool,
    include_files: Option<bool>,
}

async fn list_folder(
    State(state): State<AppState>,
    Path(account): Path<String>,
    AppQuery(q): AppQuery<ListQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let params = ListParams {
        folder: q.folder_path,
        cursor: q.cursor,
        limit: q.limit,
        recursive: q.recursive,
        include_files: q.include_files.unwrap_or(true),
    };
    Ok(Json(
        folders::list(&state, &principal, &account, params).await?,
    ))
}
