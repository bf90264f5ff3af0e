//! Folders (SPEC §7): PutFolder, GetFolderDetails, DeleteFolder, ListFolder.

use super::openapi::FolderSettings;
use super::{AppJson, AppPath, AppQuery};
use crate::auth::visibility;
use crate::auth::Principal;
use crate::domain::folders::{self, FolderView, ListItem, ListParams, SettingsChange};
use crate::error::AppResult;
use crate::meta::FolderRow;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
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
        (status = 200, description = "Folder", body = FolderDetails),
        super::responses::Common
    ),
)]
async fn put_folder(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<PutFolder>,
) -> AppResult<Json<FolderDetails>> {
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
        (status = 200, description = "Folder", body = FolderDetails),
        super::responses::Common
    ),
)]
async fn get_folder(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<FolderQuery>,
    principal: Principal,
) -> AppResult<Json<FolderDetails>> {
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
        (status = 200, description = "Deleted", body = FolderDeleted),
        super::responses::WithConflict
    ),
)]
async fn delete_folder(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<DeleteFolder>,
) -> AppResult<Json<FolderDeleted>> {
    let out = folders::delete(
        &state,
        &principal,
        &account,
        &body.folder_path,
        body.recursive,
        body.delete_files,
    )
    .await?;
    Ok(Json(FolderDeleted {
        folder_path: out.path,
        status: "Deleted",
        deleted_files: out.files,
        deleted_folders: out.folders,
    }))
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
        (status = 200, description = "Children and cursor", body = FolderList),
        super::responses::Common
    ),
)]
async fn list_folder(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<ListQuery>,
    principal: Principal,
) -> AppResult<Json<FolderList>> {
    let params = ListParams {
        folder: q.folder_path,
        cursor: q.cursor,
        limit: q.limit,
        recursive: q.recursive,
        include_files: q.include_files.unwrap_or(true),
    };
    let page = folders::list(&state, &principal, &account, params).await?;
    let items = page
        .items
        .iter()
        .map(|item| match item {
            ListItem::Folder(f) => ListEntry::Folder(summary(f)),
            ListItem::File(f) => ListEntry::File(FileEntry {
                kind: "File",
                file_path: f.path.clone(),
                file_url: super::file_url(&state, &account, &f.path),
                last_modified: f.created_at,
                size: f.size,
            }),
        })
        .collect();
    let folder = match &page.own {
        Some(r) => summary(r),
        None => FolderSummary {
            kind: "Folder",
            folder_path: page.folder,
            settings: FolderSettings::default_object(),
            is_virtual: false,
        },
    };
    Ok(Json(FolderList {
        folder,
        items,
        cursor: page.cursor,
        is_pagination_complete: page.complete,
    }))
}

/// FolderDetails: own settings plus where the effective visibility comes from.
pub fn details_json(view: &FolderView) -> FolderDetails {
    let row = view.row.as_ref();
    let settings = row
        .and_then(|r| serde_json::from_str(&r.settings).ok())
        .map_or_else(FolderSettings::default_object, FolderSettings);
    let (from, value) = match visibility::effective(&view.perms, &view.path) {
        Some((from, value)) => (from.to_string(), serde_json::to_value(value)),
        None => (
            "/".to_string(),
            serde_json::to_value(visibility::preset("public", &[])),
        ),
    };
    FolderDetails {
        folder_path: view.path.clone(),
        kind: "Folder",
        is_virtual: row.is_some_and(|r| r.explicit),
        settings,
        settings_inherited: Inherited {
            public_permissions: InheritedPermissions {
                folder_path: from,
                value: value.unwrap_or_default(),
            },
        },
    }
}

fn summary(row: &FolderRow) -> FolderSummary {
    FolderSummary {
        kind: "Folder",
        folder_path: row.path.clone(),
        settings: serde_json::from_str(&row.settings)
            .map_or_else(|_| FolderSettings::default_object(), FolderSettings),
        is_virtual: row.explicit,
    }
}

/// A folder (SPEC §7): its own settings and the public permissions in
/// force, with the folder they come from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FolderDetails {
    folder_path: String,
    /// `Folder`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Created explicitly (not only implied by the files under it).
    #[serde(rename = "virtual")]
    is_virtual: bool,
    settings: FolderSettings,
    settings_inherited: Inherited,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Inherited {
    public_permissions: InheritedPermissions,
}

/// The public permissions in force and the folder that sets them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct InheritedPermissions {
    folder_path: String,
    #[schema(value_type = Vec<super::openapi::Permission>)]
    value: Value,
}

/// A DeleteFolder answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FolderDeleted {
    folder_path: String,
    /// `Deleted`.
    status: &'static str,
    deleted_files: u64,
    deleted_folders: u64,
}

/// A page of a folder's children.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FolderList {
    folder: FolderSummary,
    items: Vec<ListEntry>,
    /// For the next page.
    cursor: String,
    is_pagination_complete: bool,
}

/// A child folder or file.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum ListEntry {
    Folder(FolderSummary),
    File(FileEntry),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FolderSummary {
    /// `Folder`.
    #[serde(rename = "type")]
    kind: &'static str,
    folder_path: String,
    settings: FolderSettings,
    #[serde(rename = "virtual")]
    is_virtual: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FileEntry {
    /// `File`.
    #[serde(rename = "type")]
    kind: &'static str,
    file_path: String,
    file_url: String,
    /// Milliseconds since the epoch.
    last_modified: i64,
    size: i64,
}
