//! Folders (SPEC §7): PutFolder, GetFolderDetails, DeleteFolder, ListFolder.

use super::{AppJson, AppPath, AppQuery};
use crate::auth::visibility;
use crate::auth::Principal;
use crate::domain::folders::{self, FolderView, ListItem, ListParams, SettingsChange};
use crate::error::AppResult;
use crate::meta::FolderRow;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

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
    AppPath(account): AppPath<String>,
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
    Ok(Json(details_json(&details)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FolderQuery {
    folder_path: String,
}

async fn get_folder(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FolderQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let view = folders::get(&state, &principal, &account, &q.folder_path).await?;
    Ok(Json(details_json(&view)))
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
    AppPath(account): AppPath<String>,
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
    Ok(Json(json!({
        "folderPath": out.path,
        "status": "Deleted",
        "deletedFiles": out.files,
        "deletedFolders": out.folders,
    })))
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
    AppPath(account): AppPath<String>,
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
    let page = folders::list(&state, &principal, &account, params).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|item| match item {
            ListItem::Folder(f) => summary(f),
            ListItem::File(f) => json!({
                "type": "File",
                "filePath": f.path,
                "fileUrl": super::file_url(&state, &account, &f.path),
                "lastModified": f.created_at,
                "size": f.size,
            }),
        })
        .collect();
    let folder = match &page.own {
        Some(r) => summary(r),
        None => {
            json!({ "type": "Folder", "folderPath": page.folder, "settings": {}, "virtual": false })
        }
    };
    Ok(Json(json!({
        "folder": folder,
        "items": items,
        "cursor": page.cursor,
        "isPaginationComplete": page.complete,
    })))
}

/// FolderDetails: own settings plus where the effective visibility comes from.
pub fn details_json(view: &FolderView) -> Value {
    let row = view.row.as_ref();
    let settings: Value = row
        .and_then(|r| serde_json::from_str(&r.settings).ok())
        .unwrap_or_else(|| json!({}));
    let inherited = match visibility::effective(&view.perms, &view.path) {
        Some((from, value)) => json!({ "folderPath": from, "value": value }),
        None => json!({ "folderPath": "/", "value": visibility::preset("public", &[]) }),
    };
    json!({
        "folderPath": view.path,
        "type": "Folder",
        "virtual": row.is_some_and(|r| r.explicit),
        "settings": settings,
        "settingsInherited": { "publicPermissions": inherited },
    })
}

fn summary(row: &FolderRow) -> Value {
    json!({
        "type": "Folder",
        "folderPath": row.path,
        "settings": serde_json::from_str::<Value>(&row.settings).unwrap_or_else(|_| json!({})),
        "virtual": row.explicit,
    })
}
