//! Ingesting an upload: limits, path resolution, permission, streaming into a
//! fresh blob, then the commit that makes it visible (SPEC §5).

use crate::auth::rules::Op;
use crate::auth::{authorize, Principal};
use crate::blobs::PutError;
use crate::domain::paths::{self, PathContext, PathSpec};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, Account, CommitOutcome, FileRow};
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

/// An upload as the HTTP layer describes it.
#[derive(Clone, Debug, Default)]
pub struct UploadRequest {
    pub account: String,
    pub path: PathSpec,
    pub original_file_name: Option<String>,
    /// The client's Content-Type, if it sent a meaningful one.
    pub mime: Option<String>,
    /// `Content-Length` or a declared size, checked before reading.
    pub declared_size: Option<u64>,
    pub metadata: Value,
    pub tags: Vec<String>,
    /// Tighter limits than the account's (an upload token's `max_size`/`mime`).
    pub max_size: Option<u64>,
    pub allowed_mime: Option<String>,
}

/// The effective limits of an account.
pub struct Limits {
    pub max_file_size: u64,
    pub allowed_mime: Option<String>,
}

pub async fn account(state: &AppState, id: &str) -> AppResult<Account> {
    state
        .meta
        .get_account(id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("Account {id}"),
        })
}

pub fn limits(state: &AppState, account: &Account) -> Limits {
    Limits {
        max_file_size: account
            .max_file_size
            .map(|v| v.max(0) as u64)
            .unwrap_or(state.config.max_file_size),
        allowed_mime: account
            .allowed_mime
            .clone()
            .filter(|s| !s.trim().is_empty()),
    }
}

/// The mime to store: the client's, else guessed from the name.
/// A given type must parse as one MIME type and is stored in canonical form, so
/// what the allow-list checked is what `Content-Type` later says.
pub fn effective_mime(given: Option<&str>, name: Option<&str>) -> AppResult<String> {
    let given = given
        .map(|m| m.trim())
        .filter(|m| !m.is_empty() && !m.starts_with("application/x-www-form-urlencoded"));
    match given {
        Some(m) => m.parse::<mime::Mime>().map(|m| m.to_string()).map_err(|_| {
            AppError::invalid_request(
                format!("{m:?} is not a valid MIME type."),
                "Send one type such as image/png (with optional parameters), or none to have it guessed from the name.",
            )
        }),
        None => Ok(name
            .and_then(|n| mime_guess::from_path(n).first_raw())
            .unwrap_or("application/octet-stream")
            .to_string()),
    }
}

/// Checks `mime` against comma-separated patterns such as `image/*,application/pdf`
/// (None: any type).
pub fn check_mime(allowed: Option<&str>, mime: &str) -> AppResult<()> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = allowed.split(',').map(str::trim).any(|p| {
        let p = p.to_ascii_lowercase();
        p == "*"
            || p == "*/*"
            || p == essence
            || p.strip_suffix("/*")
                .is_some_and(|t| essence.split('/').next() == Some(t))
    });
    if ok {
        Ok(())
    } else {
        Err(AppError::MimeTypeNotAllowed {
            mime: essence,
            allowed: allowed.to_string(),
        })
    }
}

/// Streams `body` in and commits it. Runs to completion even if the client goes
/// away: callers spawn it, so a dropped connection surfaces as a body error and
/// the partial blob is removed here.
pub async fn ingest<S, E>(
    state: AppState,
    principal: Principal,
    req: UploadRequest,
    body: S,
) -> AppResult<FileRow>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let now = chrono::Utc::now();
    let ctx = PathContext {
        now,
        original_file_name: req.original_file_name.as_deref(),
    };
    let resolved = paths::resolve(&req.path, &ctx)?;
    let placeholder = "0".repeat(64);
    paths::validate_file_path(&paths::fill_hash(&resolved.path, &placeholder))?;
    authorize(&principal, &req.account, Op::Create, &resolved.path, || {
        false
    })?;

    let account = account(&state, &req.account).await?;
    let mut limits = limits(&state, &account);
    if let Some(max) = req.max_size {
        limits.max_file_size = limits.max_file_size.min(max);
    }
    if let Some(declared) = req.declared_size {
        if declared > limits.max_file_size {
            return Err(AppError::FileTooLarge {
                limit: limits.max_file_size,
                declared: Some(declared),
            });
        }
    }
    let name_for_mime = req
        .original_file_name
        .as_deref()
        .or(Some(paths::file_name(&resolved.path)));
    let mime = effective_mime(req.mime.as_deref(), name_for_mime)?;
    check_mime(limits.allowed_mime.as_deref(), &mime)?;
    check_mime(req.allowed_mime.as_deref(), &mime)?;

    let target = target_path(&state, &principal, &req.account, &resolved).await?;

    let _in_flight = crate::metrics::InFlight::start();
    let blob_key = new_blob_key(&state, &req.account).await?;
    let stored = match state
        .blobs
        .put_stream(&blob_key, body, limits.max_file_size)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            discard(&state, &blob_key).await;
            return Err(match e {
                PutError::TooLarge { limit } => AppError::FileTooLarge {
                    limit,
                    declared: None,
                },
                PutError::Body(msg) => AppError::UploadIncomplete {
                    message: format!("The request body ended early or failed: {msg}."),
                },
                PutError::Store(err) => AppError::Unavailable {
                    cause: err.to_string(),
                },
            });
        }
    };
    metrics::counter!(crate::metrics::BYTES_IN).increment(stored.size);
    if let Some(declared) = req.declared_size {
        if declared != stored.size {
            discard(&state, &blob_key).await;
            return Err(AppError::UploadIncomplete {
                message: format!(
                    "The body had {} bytes but {declared} were declared.",
                    stored.size
                ),
            });
        }
    }

    let mut row = FileRow {
        account_id: req.account.clone(),
        path: paths::fill_hash(&target, &stored.sha256),
        version_id: new_version_id(),
        blob_key: blob_key.clone(),
        size: stored.size as i64,
        mime,
        etag: stored.sha256.clone(),
        original_file_name: req
            .original_file_name
            .as_deref()
            .map(paths::clean_original_name),
        metadata: serde_json::to_string(&normalize_metadata(req.metadata))
            .map_err(AppError::internal)?,
        tags: serde_json::to_string(&req.tags).map_err(AppError::internal)?,
        created_at: now_ms(),
    };
    commit_with_fallback(&state, &principal, &mut row, &resolved.fallback, true).await?;
    Ok(row)
}

/// The path an upload will take: the resolved one, or its fallback when a file
/// exists there that the principal may not overwrite (409 without a fallback).
/// This fails fast; the commit checks again atomically.
pub async fn target_path(
    state: &AppState,
    principal: &Principal,
    account: &str,
    resolved: &paths::Resolved,
) -> AppResult<String> {
    let path = &resolved.path;
    let may_overwrite = authorize(principal, account, Op::Overwrite, path, || false).is_ok();
    if path.contains(paths::HASH_VARIABLE)
        || may_overwrite
        || state.meta.get_file(account, path).await?.is_none()
    {
        return Ok(path.clone());
    }
    fallback_or_conflict(path, &resolved.fallback)
}

/// Commits `row` (overwriting only if `allow_overwrite` and the principal may),
/// moving to the fallback path once if the target exists and may not be
/// overwritten. If it cannot be committed, its blob is discarded.
pub async fn commit_with_fallback(
    state: &AppState,
    principal: &Principal,
    row: &mut FileRow,
    fallback: &Option<String>,
    allow_overwrite: bool,
) -> AppResult<()> {
    let result = try_commit(state, principal, row, fallback, allow_overwrite).await;
    if result.is_err() {
        discard(state, &row.blob_key).await;
    }
    result
}

async fn try_commit(
    state: &AppState,
    principal: &Principal,
    row: &mut FileRow,
    fallback: &Option<String>,
    allow_overwrite: bool,
) -> AppResult<()> {
    let account = row.account_id.clone();
    for attempt in 0..2 {
        paths::validate_file_path(&row.path)?;
        authorize(principal, &account, Op::Create, &row.path, || false)?;
        let overwrite = allow_overwrite
            && authorize(principal, &account, Op::Overwrite, &row.path, || false).is_ok();
        match state.meta.commit_file(row, overwrite).await? {
            CommitOutcome::Committed { dropped_blobs } => {
                state.forget_file(&account, &row.path).await;
                for key in dropped_blobs {
                    discard(state, &key).await;
                }
                return Ok(());
            }
            CommitOutcome::Exists if attempt == 0 => {
                let next = fallback_or_conflict(&row.path, fallback)?;
                if next == row.path {
                    break;
                }
                row.path = paths::fill_hash(&next, &row.etag);
            }
            CommitOutcome::Exists => break,
        }
    }
    Err(AppError::FileAlreadyExists {
        path: row.path.clone(),
    })
}

fn fallback_or_conflict(path: &str, fallback: &Option<String>) -> AppResult<String> {
    match fallback {
        Some(f) if f != path => Ok(f.clone()),
        _ => Err(AppError::FileAlreadyExists {
            path: path.to_string(),
        }),
    }
}

/// A fresh object key under `prefix` (an account id), registered for garbage
/// collection so that it is removed unless a commit claims it in time.
pub async fn new_blob_key(state: &AppState, prefix: &str) -> AppResult<String> {
    let key = format!("{prefix}/{}", uuid::Uuid::now_v7().simple());
    let abandon_at = now_ms() + (state.config.abandoned_upload_ttl as i64) * 1000;
    state.meta.gc_register(&key, abandon_at).await?;
    Ok(key)
}

/// A fresh version id (time-ordered).
pub fn new_version_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Deletes a blob that will not be committed, then forgets its GC entry. If the
/// delete fails the entry stays and the sweeper retries.
pub async fn discard(state: &AppState, blob_key: &str) {
    match state.blobs.delete(blob_key).await {
        Ok(()) => {
            if let Err(e) = state.meta.gc_remove(blob_key).await {
                tracing::warn!(blob.key = blob_key, error = %e, "gc entry not removed; sweeper will retry");
            }
        }
        Err(e) => {
            tracing::warn!(blob.key = blob_key, error = %e, "blob not deleted; sweeper will retry")
        }
    }
}

fn normalize_metadata(v: Value) -> Value {
    match v {
        Value::Object(_) => v,
        _ => Value::Object(Default::default()),
    }
}
