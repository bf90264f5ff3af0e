//! Reading and managing stored files: details, download lookup, delete, copy,
//! versions (SPEC §6, §7). Authorization always comes before existence, so a
//! caller who may not read a path learns nothing about it.

use crate::auth::rules::Op;
use crate::auth::{authorize, authorize_read, Access, Principal};
use crate::domain::paths;
use crate::domain::uploads::{self, discard};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, FileRow};
use crate::state::AppState;
use std::sync::Arc;

/// The file (or one of its versions) a download serves, and how access was granted.
pub async fn for_download(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    version_id: Option<&str>,
) -> AppResult<(Arc<FileRow>, Access)> {
    paths::validate_file_path(path)?;
    let access = authorize_read(state, principal, account, path).await?;
    let row = match version_id {
        None => state.current_file(account, path).await?,
        Some(v) => state
            .meta
            .get_version(account, path, v)
            .await?
            .map(Arc::new),
    };
    let row = row.ok_or_else(|| AppError::FileNotFound {
        path: path.to_string(),
    })?;
    Ok((row, access))
}

pub async fn details(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
) -> AppResult<FileRow> {
    paths::validate_file_path(path)?;
    authorize(principal, account, Op::Read, path, || false)?;
    state
        .meta
        .get_file(account, path)
        .await?
        .ok_or_else(|| AppError::FileNotFound {
            path: path.to_string(),
        })
}

pub async fn delete(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
) -> AppResult<()> {
    paths::validate_file_path(path)?;
    authorize(principal, account, Op::Delete, path, || false)?;
    let dropped = state.meta.delete_file(account, path, now_ms()).await?;
    state.forget_file(account, path).await;
    if dropped.is_empty() {
        return Err(AppError::FileNotFound {
            path: path.to_string(),
        });
    }
    for key in dropped {
        discard(state, &key).await;
    }
    Ok(())
}

/// Copies the current version of `source` to `destination` (a new blob, so the
/// two evolve independently).
pub async fn copy(
    state: &AppState,
    principal: &Principal,
    account: &str,
    source: &str,
    destination: &str,
) -> AppResult<FileRow> {
    paths::validate_file_path(source)?;
    paths::validate_file_path(destination)?;
    authorize(principal, account, Op::Read, source, || false)?;
    authorize(principal, account, Op::Create, destination, || false)?;
    let src =
        state
            .meta
            .get_file(account, source)
            .await?
            .ok_or_else(|| AppError::FileNotFound {
                path: source.to_string(),
            })?;
    let acc = uploads::account(state, account).await?;
    let limits = uploads::limits(state, &acc);
    uploads::check_mime(limits.allowed_mime.as_deref(), &src.mime)?;

    let blob_key = uploads::new_blob_key(state, account).await?;
    if let Err(e) = state.blobs.copy(&src.blob_key, &blob_key).await {
        discard(state, &blob_key).await;
        return Err(e);
    }
    let mut row = FileRow {
        path: destination.to_string(),
        version_id: uploads::new_version_id(),
        blob_key: blob_key.clone(),
        created_at: now_ms(),
        ..src
    };
    uploads::commit_with_fallback(state, principal, &mut row, &None, true).await?;
    Ok(row)
}

pub async fn versions(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
) -> AppResult<Vec<FileRow>> {
    paths::validate_file_path(path)?;
    authorize(principal, account, Op::Read, path, || false)?;
    let versions = state.meta.list_versions(account, path).await?;
    if versions.is_empty() {
        return Err(AppError::FileNotFound {
            path: path.to_string(),
        });
    }
    Ok(versions)
}

/// Longest lifetime of a signed download link.
pub const MAX_LINK_SECS: i64 = 7 * 24 * 3600;

/// A link that lets anyone download `path` until it expires (SPEC §6).
pub async fn signed_url(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    expires_in: Option<i64>,
) -> AppResult<String> {
    paths::validate_file_path(path)?;
    authorize(principal, account, Op::Read, path, || false)?;
    let secs = expires_in.unwrap_or(3600);
    if !(1..=MAX_LINK_SECS).contains(&secs) {
        return Err(AppError::invalid_request(
            format!("expires_in {secs} is out of range."),
            "Use 1 to 604800 seconds (7 days).",
        ));
    }
    if state.meta.get_file(account, path).await?.is_none() {
        return Err(AppError::FileNotFound {
            path: path.to_string(),
        });
    }
    let exp = chrono::Utc::now().timestamp() + secs;
    let link = crate::auth::download_link_path(account, path);
    let q = crate::auth::signed::query(&state.master_key, crate::auth::DOWNLOAD_SCOPE, &link, exp);
    Ok(format!(
        "{}?{q}",
        crate::http::file_url(state, account, path)
    ))
}
