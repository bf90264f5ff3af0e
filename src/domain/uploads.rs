//! Ingesting an upload: limits, path resolution, permission, streaming into a
//! fresh blob, then the commit that makes it visible (SPEC §5).

use crate::auth::{Need, Principal};
use crate::blobs::digest::Expected;
use crate::domain::ingest::{self, NewFile, StagedBlob};
use crate::domain::paths::{self, PathContext, PathSpec};
use crate::error::{AppError, AppResult};
use crate::meta::{Account, FileRow};
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
    /// The digests the client declared for these bytes (RFC 9530), checked
    /// before the blob is completed.
    pub digest: Option<Expected>,
}

/// An upload whose bytes are stored but not yet visible: [`finish`] commits
/// it; dropped, its bytes are deleted.
pub struct Prepared {
    file: NewFile,
    blob: StagedBlob,
}

impl Prepared {
    /// Deletes the bytes now.
    pub async fn discard(self) {
        self.blob.discard().await;
    }
}

/// The effective limits of an account.
pub struct Limits {
    pub max_file_size: u64,
    pub allowed_mime: Option<String>,
}

impl Limits {
    /// 413 before any byte is read when the declared size is over the limit.
    pub fn check_declared(&self, declared: Option<u64>) -> AppResult<()> {
        match declared {
            Some(d) if d > self.max_file_size => Err(AppError::FileTooLarge {
                limit: self.max_file_size,
                declared: Some(d),
            }),
            _ => Ok(()),
        }
    }
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

/// Streams `body` in and commits it. Callers run it [`detached`], so a dropped
/// connection surfaces as a body error and the partial blob is removed here.
///
/// [`detached`]: crate::domain::ingest::detached
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
    let prepared = stage(&state, &principal, req, body).await?;
    finish(&state, &principal, prepared).await
}

/// Makes a [`Prepared`] upload visible (or deletes its bytes).
pub async fn finish(
    state: &AppState,
    principal: &Principal,
    prepared: Prepared,
) -> AppResult<FileRow> {
    ingest::commit(state, principal, prepared.file, prepared.blob).await
}

/// Checks, resolves and streams an upload into a staged blob, without making
/// it visible: a form whose whole-body digest is only known at its end stages
/// every file first (see `http/form.rs`).
pub async fn stage<S, E>(
    state: &AppState,
    principal: &Principal,
    req: UploadRequest,
    body: S,
) -> AppResult<Prepared>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let ctx = PathContext {
        now: chrono::Utc::now(),
        original_file_name: req.original_file_name.as_deref(),
    };
    let resolved = paths::resolve(&req.path, &ctx)?;
    let placeholder = "0".repeat(64);
    paths::validate_file_path(&paths::fill_hash(&resolved.path, &placeholder))?;
    principal.require(&req.account, Need::create(&resolved.path))?;

    let account = account(state, &req.account).await?;
    let mut limits = limits(state, &account);
    if let Some(max) = req.max_size {
        limits.max_file_size = limits.max_file_size.min(max);
    }
    limits.check_declared(req.declared_size)?;
    let name_for_mime = req
        .original_file_name
        .as_deref()
        .or(Some(paths::file_name(&resolved.path)));
    let mime = effective_mime(req.mime.as_deref(), name_for_mime)?;
    check_mime(limits.allowed_mime.as_deref(), &mime)?;
    check_mime(req.allowed_mime.as_deref(), &mime)?;

    let target = ingest::target_path(state, principal, &req.account, &resolved).await?;

    let _in_flight = crate::metrics::InFlight::start();
    let limit = limits.max_file_size;
    let blob = StagedBlob::stream_verified(state, &req.account, body, limit, req.digest).await?;
    if let Some(declared) = req.declared_size.filter(|d| *d != blob.size) {
        let got = blob.size;
        blob.discard().await;
        return Err(AppError::UploadIncomplete {
            message: format!("The body had {got} bytes but {declared} were declared."),
        });
    }
    let file = NewFile {
        account: req.account,
        path: target,
        fallback: resolved.fallback,
        mime,
        original_file_name: req
            .original_file_name
            .as_deref()
            .map(paths::clean_original_name),
        metadata: req.metadata,
        tags: req.tags,
        allow_overwrite: true,
    };
    Ok(Prepared { file, blob })
}
