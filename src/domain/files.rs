//! Reading and managing stored files: details, download lookup, delete, copy,
//! versions (SPEC §6, §7). Authorization always comes before existence, so a
//! caller who may not read a path learns nothing about it.

use crate::auth::{Access, Need, Principal};
use crate::cache::Served;
use crate::domain::ingest::{detached, discard, StagedBlob};
use crate::domain::paths;
use crate::domain::plan::{self, Intent, Uploader};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, FileRow, MoveOutcome};
use crate::state::AppState;
use std::sync::Arc;

/// The slug of originals (`/{acc}/raw/…`, JWT `downloadFile: ["raw"]`).
pub const RAW_SLUG: &str = "raw";

/// The file (or one of its versions) a download through `slug` serves (`raw`
/// for originals, `image` or a preset's name for transformations), and how
/// access was granted.
pub async fn for_download(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    version_id: Option<&str>,
    slug: &str,
) -> AppResult<(Arc<Served>, Access)> {
    paths::validate_file_path(path)?;
    let access = state
        .auth
        .require_read(principal, account, path, slug)
        .await?;
    let row = match version_id {
        None => state.files.current(&state.meta, account, path).await?,
        Some(v) => state
            .meta
            .get_version(account, path, v)
            .await?
            .map(|r| Arc::new(Served::new(r))),
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
    principal.require(account, Need::read(path))?;
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
    principal.require(account, Need::delete(path))?;
    let dropped = state.meta.delete_file(account, path, now_ms()).await?;
    state.files.forget(account, path).await;
    let Some(dropped) = dropped else {
        return Err(AppError::FileNotFound {
            path: path.to_string(),
        });
    };
    for key in dropped {
        discard(state, &key).await;
    }
    Ok(())
}

/// Copies the current version of `source` to `destination`: the new file
/// shares the source's blob (one more reference, no bytes copied); the two
/// still evolve independently, since blobs are never rewritten.
pub async fn copy(
    state: &AppState,
    principal: &Principal,
    account: &str,
    source: &str,
    destination: &str,
) -> AppResult<FileRow> {
    paths::validate_file_path(source)?;
    paths::validate_file_path(destination)?;
    // A copy hands out the original: read of `raw`, not of any slug (SPEC §6).
    principal.require_download(account, source, RAW_SLUG)?;
    principal.require(account, Need::create(destination))?;
    let src =
        state
            .meta
            .get_file(account, source)
            .await?
            .ok_or_else(|| AppError::FileNotFound {
                path: source.to_string(),
            })?;
    let intent = Intent {
        account: account.to_string(),
        path: Some(plan::exact(destination)),
        original_file_name: src.original_file_name.clone(),
        mime: Some(src.mime.clone()),
        metadata: serde_json::from_str(&src.metadata).unwrap_or_default(),
        tags: serde_json::from_str(&src.tags).unwrap_or_default(),
        ..Intent::default()
    };
    let planned = plan::plan(state, Uploader::new(principal.clone()), intent).await?;
    // One more reference to the source's bytes: nothing is copied.
    let state = state.clone();
    detached(async move {
        let blob = StagedBlob::shared(&state, &src);
        planned.with_blob(blob).commit(&state).await
    })
    .await
}

/// Moves `source` (with its history) to `destination` in one transaction
/// (SPEC §7, stowage's own): needs `read` and `delete` on the source, `create`
/// on the destination, and `overwrite` there to replace a file (else 409).
pub async fn move_file(
    state: &AppState,
    principal: &Principal,
    account: &str,
    source: &str,
    destination: &str,
) -> AppResult<()> {
    paths::validate_file_path(source)?;
    paths::validate_file_path(destination)?;
    principal.require(account, Need::read(source))?;
    principal.require(account, Need::delete(source))?;
    principal.require(account, Need::create(destination))?;
    if source == destination {
        return Err(AppError::invalid_request(
            "The source and the destination are the same path.",
            "Give a different destination.",
        ));
    }
    let overwrite = principal.may(account, Need::overwrite(destination));
    let outcome = state
        .meta
        .move_file(account, source, destination, overwrite, now_ms())
        .await?;
    state.files.forget(account, source).await;
    state.files.forget(account, destination).await;
    match outcome {
        MoveOutcome::Missing => Err(AppError::FileNotFound {
            path: source.to_string(),
        }),
        MoveOutcome::Exists => Err(AppError::FileAlreadyExists {
            path: destination.to_string(),
        }),
        MoveOutcome::Moved { freed } => {
            for key in freed {
                discard(state, &key).await;
            }
            Ok(())
        }
    }
}

/// Makes version `version_id` of `path` current again, as a new version
/// sharing its blob (SPEC §7, stowage's own): it goes through the upload plan
/// and commit like a copy, so quotas, events and version order apply. Needs
/// `read` and `overwrite` on the path (and `create`, as every write).
pub async fn restore(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    version_id: &str,
) -> AppResult<FileRow> {
    paths::validate_file_path(path)?;
    principal.require(account, Need::read(path))?;
    principal.require(account, Need::overwrite(path))?;
    let old = state
        .meta
        .get_version(account, path, version_id)
        .await?
        // As `raw?versionId=` does: an unknown version is a file not found.
        .ok_or_else(|| AppError::FileNotFound {
            path: format!("{path}?versionId={version_id}"),
        })?;
    let intent = Intent {
        account: account.to_string(),
        path: Some(plan::exact(path)),
        original_file_name: old.original_file_name.clone(),
        mime: Some(old.mime.clone()),
        metadata: serde_json::from_str(&old.metadata).unwrap_or_default(),
        tags: serde_json::from_str(&old.tags).unwrap_or_default(),
        ..Intent::default()
    };
    let planned = plan::plan(state, Uploader::new(principal.clone()), intent).await?;
    let state = state.clone();
    detached(async move {
        let blob = StagedBlob::shared(&state, &old);
        planned.with_blob(blob).commit(&state).await
    })
    .await
}

pub async fn versions(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
) -> AppResult<Vec<FileRow>> {
    paths::validate_file_path(path)?;
    principal.require(account, Need::read(path))?;
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

/// What a signed download link carries: the version it serves and the
/// `exp`/`sig` query (http/ builds the URL).
pub struct SignedLink {
    pub version_id: String,
    pub query: String,
}

/// A link that lets anyone download `path` (its current version, or
/// `version_id`) until it expires (SPEC §6); it never serves another version.
pub async fn signed_link(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
    expires_in: Option<i64>,
    version_id: Option<&str>,
) -> AppResult<SignedLink> {
    paths::validate_file_path(path)?;
    // The link serves the original: read of `raw`, not of any slug (SPEC §6).
    principal.require_download(account, path, RAW_SLUG)?;
    let secs = expires_in.unwrap_or(3600);
    if !(1..=MAX_LINK_SECS).contains(&secs) {
        return Err(AppError::invalid_request(
            format!("expires_in {secs} is out of range."),
            "Use 1 to 604800 seconds (7 days).",
        ));
    }
    let row = match version_id {
        None => state.meta.get_file(account, path).await?,
        Some(v) => state.meta.get_version(account, path, v).await?,
    };
    let row = row.ok_or_else(|| AppError::FileNotFound {
        path: path.to_string(),
    })?;
    let exp = chrono::Utc::now().timestamp() + secs;
    let subject = crate::auth::download_link_subject(account, path, &row.version_id);
    let query = crate::auth::signed::query(
        state.master_key(),
        crate::auth::DOWNLOAD_SCOPE,
        &subject,
        exp,
    );
    Ok(SignedLink {
        version_id: row.version_id,
        query,
    })
}
