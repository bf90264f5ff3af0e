//! Folders (SPEC §7): PutFolder, GetFolderDetails, DeleteFolder, ListFolder.

use super::{AppJson, AppPath, AppQuery};
use crate::auth::visibility;
use crate::auth::Principal;
use crate::domain::folders::{self, FolderView, ListItem, ListParams, SettingsChange};
use crate::error::AppResult;
use crate::meta::FolderRow;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_folder, put_folder, delete_folder))
        .routes(routes!(list_folder))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PutFolder {
    folder_path: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    folder_settings: SettingsChange,
    /// Accepted and ignored (Bytescale clients send it).
    #[serde(default)]
    #[allow(dead_code)]
    allow_unnamed_folder: Option<bool>,
}

#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/folders",
    tag = "folders",
    summary = "Create or update a folder",
    params(("account" = String, Path, description = "Account ID")),
    request_body = PutFolder,
    responses(
        (status = 200, description = "Folder", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct FolderQuery {
    folder_path: String,
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/folders",
    tag = "folders",
    summary = "Folder details",
    params(("account" = String, Path, description = "Account ID"), FolderQuery),
    responses(
        (status = 200, description = "Folder", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn get_folder(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FolderQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let view = folders::get(&state, &principal, &account, &q.folder_path).await?;
    Ok(Json(details_json(&view)))
}

#[derive(Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/folders",
    tag = "folders",
    summary = "Delete a folder",
    params(("account" = String, Path, description = "Account ID")),
    request_body = DeleteFolder,
    responses(
        (status = 200, description = "Deleted", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 409, description = "Conflict", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    folder_path: String,
    cursor: Option<String>,
    limit: Option<i64>,
    #[serde(default)]
    recursive: bool,
    include_files: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/folders/list",
    tag = "folders",
    summary = "List a folder's children",
    params(("account" = String, Path, description = "Account ID"), ListQuery),
    responses(
        (status = 200, description = "Children and cursor", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
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
