//! Folders (SPEC §4, §7): settings with PATCH semantics, details with inherited
//! visibility, cursor listing and deletion.

use crate::auth::visibility::{FolderPermissions, PublicPermission};
use crate::auth::{Need, Principal};
use crate::domain::ingest::discard;
use crate::domain::paths;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, After, FileRow, FolderRow, ListQuery, MetaStore};
use crate::state::AppState;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// One setting in Bytescale's PATCH form: `{set: false}` or `{set: true, value?}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub set: bool,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsChange {
    pub description: Option<Change>,
    pub public_permissions: Option<Change>,
    /// Accepted for compatibility; only the built-in storage exists.
    pub storage_layer: Option<Change>,
}

/// Strips a trailing `/` and validates a folder path.
pub fn normalize(path: &str) -> AppResult<String> {
    paths::validate_folder_path(path)?;
    Ok(if path.len() > 1 {
        path.trim_end_matches('/').to_string()
    } else {
        path.to_string()
    })
}

/// Applies a settings change to a folder and makes it explicit.
pub async fn apply(
    meta: &dyn MetaStore,
    account: &str,
    path: &str,
    change: &SettingsChange,
) -> AppResult<FolderRow> {
    let mut settings: Map<String, Value> = match meta.get_folder(account, path).await? {
        Some(row) => serde_json::from_str(&row.settings).map_err(AppError::internal)?,
        None => Map::new(),
    };
    if let Some(c) = change.description.as_ref().filter(|c| c.set) {
        match &c.value {
            Some(Value::String(s)) => {
                settings.insert("description".into(), json!(s));
            }
            None | Some(Value::Null) => {
                settings.remove("description");
            }
            Some(_) => {
                return Err(AppError::invalid_request(
                    "folderSettings.description.value must be a string.",
                    "Send {\"set\": true, \"value\": \"text\"}, or {\"set\": true} to remove it.",
                ))
            }
        }
    }
    if let Some(c) = change.public_permissions.as_ref().filter(|c| c.set) {
        match &c.value {
            None | Some(Value::Null) => {
                settings.remove("publicPermissions");
            }
            Some(v) => {
                let parsed: Vec<PublicPermission> =
                    serde_json::from_value(v.clone()).map_err(|e| {
                        AppError::invalid_request(
                            format!("folderSettings.publicPermissions.value is not valid: {e}."),
                            "Send an array like [{\"scope\": \"Children\", \"permissions\": \
                             {\"file\": {\"downloadFile\": [\"*\"]}}}] (scopes: This, Children, \
                             Grandchildren+).",
                        )
                    })?;
                settings.insert(
                    "publicPermissions".into(),
                    serde_json::to_value(parsed).map_err(AppError::internal)?,
                );
            }
        }
    }
    if let Some(c) = change.storage_layer.as_ref().filter(|c| c.set) {
        let builtin = c
            .value
            .as_ref()
            .is_none_or(|v| v.get("type").and_then(Value::as_str) == Some("InternalStorageV2"));
        if !builtin {
            return Err(AppError::invalid_request(
                "External storage layers are not supported.",
                "Leave storageLayer out; stowage stores every file in STOWAGE_STORAGE_URL.",
            ));
        }
    }
    let text = Value::Object(settings).to_string();
    meta.put_folder(account, path, &text, now_ms()).await
}

/// A folder as FolderDetails shows it: its own row (if any) and the
/// account's visibility settings, to tell what it inherits and from where.
pub struct FolderView {
    pub path: String,
    pub row: Option<FolderRow>,
    pub perms: Arc<FolderPermissions>,
}

/// One page of a listing.
pub struct Listing {
    pub folder: String,
    /// The listed folder's own row, if it has one.
    pub own: Option<FolderRow>,
    pub items: Vec<ListItem>,
    pub cursor: String,
    pub complete: bool,
}

pub enum ListItem {
    Folder(FolderRow),
    File(FileRow),
}

/// What a folder delete removed.
pub struct Deleted {
    pub path: String,
    pub files: u64,
    pub folders: u64,
}

pub async fn put(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    change: &SettingsChange,
) -> AppResult<FolderView> {
    let path = normalize(path)?;
    principal.require(account, Need::folders(&path))?;
    let row = apply(state.meta.as_ref(), account, &path, change).await?;
    state.auth.forget_folders(account).await;
    let perms = state.auth.folder_permissions(account).await?;
    Ok(FolderView {
        path,
        row: Some(row),
        perms,
    })
}

pub async fn get(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
) -> AppResult<FolderView> {
    let path = normalize(path)?;
    principal.require(account, Need::list(&path))?;
    let row = state.meta.get_folder(account, &path).await?;
    if row.is_none() && path != "/" && !state.meta.folder_has_content(account, &path).await? {
        return Err(AppError::NotFound {
            what: format!("Folder {path}"),
        });
    }
    let perms = state.auth.folder_permissions(account).await?;
    Ok(FolderView { path, row, perms })
}

pub struct ListParams {
    pub folder: String,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    pub recursive: bool,
    pub include_files: bool,
}

pub(crate) fn encode_cursor(after: &After) -> String {
    let raw = match after {
        After::Start => String::new(),
        After::Folder(p) => format!("d{p}"),
        After::File(p) => format!("f{p}"),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub(crate) fn decode_cursor(cursor: &str) -> AppResult<After> {
    let bad = || {
        AppError::invalid_request(
            "The cursor is not one this server issued.",
            "Pass back the cursor from the previous page unchanged, or leave it out to start over.",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    match raw.split_at_checked(1) {
        Some(("d", p)) if p.starts_with('/') => Ok(After::Folder(p.to_string())),
        Some(("f", p)) if p.starts_with('/') => Ok(After::File(p.to_string())),
        _ if raw.is_empty() => Ok(After::Start),
        _ => Err(bad()),
    }
}

pub async fn list(
    state: &AppState,
    principal: &Principal,
    account: &str,
    params: ListParams,
) -> AppResult<Listing> {
    let folder = normalize(&params.folder)?;
    principal.require(account, Need::list(&folder))?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid_request(
            format!("limit {limit} is out of range."),
            "Use a limit from 1 to 1000.",
        ));
    }
    let after = match &params.cursor {
        Some(c) if !c.is_empty() => decode_cursor(c)?,
        _ => After::Start,
    };
    let (folders, files) = state
        .meta
        .list_folder(&ListQuery {
            account_id: account.to_string(),
            folder: folder.clone(),
            recursive: params.recursive,
            include_files: params.include_files,
            after: after.clone(),
            limit: limit + 1,
        })
        .await?;
    // Merge by (path, folders first), keep one page.
    let mut items: Vec<(String, u8, ListItem)> = folders
        .into_iter()
        .map(|f| (f.path.clone(), 0, ListItem::Folder(f)))
        .chain(
            files
                .into_iter()
                .map(|f| (f.path.clone(), 1, ListItem::File(f))),
        )
        .collect();
    items.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let complete = items.len() as i64 <= limit;
    items.truncate(limit as usize);
    let next = match items.last() {
        Some((p, 0, _)) => After::Folder(p.clone()),
        Some((p, _, _)) => After::File(p.clone()),
        None => after,
    };
    let own = state.meta.get_folder(account, &folder).await?;
    // A recursive listing shows an item only to a principal that may list the
    // folder holding it (the page and cursor still advance past the others).
    let visible = |path: &str| principal.may(account, Need::list(paths::parent(path)));
    Ok(Listing {
        folder,
        own,
        items: items
            .into_iter()
            .filter(|(p, _, _)| !params.recursive || visible(p))
            .map(|(_, _, item)| item)
            .collect(),
        cursor: encode_cursor(&next),
        complete,
    })
}

/// Deletes a folder's settings (and subfolders' when `recursive`), and with
/// `delete_files` the files in it (direct children, or the subtree when
/// `recursive`).
///
/// Everything is authorized before anything changes: `folders` on the folder
/// and, when `recursive`, on every subfolder that holds settings (so `folders`
/// on `/users/42` cannot clear `/users/42/private`'s Private setting), and
/// `delete` on every file. Files are then deleted page by page (memory stays
/// bounded whatever the subtree holds), each re-checked as it goes.
pub async fn delete(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    recursive: bool,
    delete_files: bool,
) -> AppResult<Deleted> {
    let path = normalize(path)?;
    principal.require(account, Need::folders(&path))?;
    if recursive {
        for_each_page(state, account, &path, true, false, |folders, _| {
            folders
                .iter()
                .filter(|f| f.explicit || f.settings.trim() != "{}")
                .try_for_each(|f| principal.require(account, Need::folders(&f.path)))
        })
        .await?;
    }
    if delete_files {
        for_each_page(state, account, &path, recursive, true, |_, files| {
            files
                .iter()
                .try_for_each(|f| principal.require(account, Need::delete(&f.path)))
        })
        .await?;
    }
    let deleted_files = if delete_files {
        delete_files_in(state, principal, account, &path, recursive).await?
    } else {
        0
    };
    let deleted_folders = state.meta.delete_folders(account, &path, recursive).await?;
    state.auth.forget_folders(account).await;
    Ok(Deleted {
        path,
        files: deleted_files,
        folders: deleted_folders,
    })
}

/// Page size of the passes over a subtree.
const PAGE: i64 = 1000;

/// Calls `check` on every page of `path`'s children (or subtree), stopping at
/// its first error.
async fn for_each_page(
    state: &AppState,
    account: &str,
    path: &str,
    recursive: bool,
    include_files: bool,
    mut check: impl FnMut(&[FolderRow], &[FileRow]) -> AppResult<()>,
) -> AppResult<()> {
    let mut after = After::Start;
    loop {
        let (folders, files) = state
            .meta
            .list_folder(&ListQuery {
                account_id: account.to_string(),
                folder: path.to_string(),
                recursive,
                include_files,
                after: after.clone(),
                limit: PAGE,
            })
            .await?;
        check(&folders, &files)?;
        // Each kind comes in path order; resume after the later of the two
        // last items, whose kind decides the tie (folders before files).
        let last_folder = folders.last().map(|f| After::Folder(f.path.clone()));
        let last_file = files.last().map(|f| After::File(f.path.clone()));
        let full = folders.len() as i64 >= PAGE || files.len() as i64 >= PAGE;
        after = match (last_folder, last_file) {
            (None, None) => return Ok(()),
            (Some(d), None) => d,
            (None, Some(f)) => f,
            (Some(d), Some(f)) => std::cmp::min_by(d, f, |a, b| after_key(a).cmp(&after_key(b))),
        };
        if !full {
            return Ok(());
        }
    }
}

fn after_key(a: &After) -> (&str, u8) {
    match a {
        After::Start => ("", 0),
        After::Folder(p) => (p, 0),
        After::File(p) => (p, 1),
    }
}

/// Deletes every file below `path`, one page at a time; returns how many went.
async fn delete_files_in(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    recursive: bool,
) -> AppResult<u64> {
    let mut deleted = 0;
    loop {
        let (_, files) = state
            .meta
            .list_folder(&ListQuery {
                account_id: account.to_string(),
                folder: path.to_string(),
                recursive,
                include_files: true,
                after: After::Start,
                limit: PAGE,
            })
            .await?;
        if files.is_empty() {
            return Ok(deleted);
        }
        for f in &files {
            principal.require(account, Need::delete(&f.path))?;
            let dropped = state.meta.delete_file(account, &f.path, now_ms()).await?;
            state.files.forget(account, &f.path).await;
            let Some(dropped) = dropped else { continue };
            deleted += 1;
            for key in dropped {
                discard(state, &key).await;
            }
        }
    }
}
