//! The one upload pipeline every route uses (binary, form_data, token,
//! ImageKit, multipart parts and assembly, copy):
//!
//! 1. [`StagedBlob::stream`] (or [`StagedBlob::copy`]) writes the bytes under a
//!    fresh key registered for garbage collection first, so a crash leaves
//!    nothing the sweeper does not find;
//! 2. [`commit`] turns the staged blob plus a resolved path into the file row
//!    in one transaction, or deletes the blob.
//!
//! A [`StagedBlob`] owns its cleanup: dropped without being committed or kept,
//! it deletes its bytes, so every error path reaches the cleanup.
//!
//! Integrity and deduplication (SPEC §5): [`StagedBlob::stream_verified`]
//! checks the client's RFC 9530 digests before the object is completed; the
//! commit reuses the account's object with the same SHA-256 when there is one
//! (the fresh one is then deleted), and [`StagedBlob::shared`] commits a new
//! reference to an existing object (copies).

use crate::auth::{Need, Principal};
use crate::blobs::digest::Expected;
use crate::domain::paths;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, BlobClaim, CommitOutcome, FileRow};
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;
use std::future::Future;

/// Bytes in the store under a GC-registered key, not yet part of any file.
pub struct StagedBlob {
    state: AppState,
    key: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    armed: bool,
    /// An object other versions already use (not ours to delete).
    shared: bool,
    /// Whether `sha256` is the digest of the whole content (not just an etag).
    digest_known: bool,
}

impl StagedBlob {
    /// Streams `body` into a fresh blob under `prefix`, failing once more than
    /// `limit` bytes arrive. On any failure nothing is left behind.
    pub async fn stream<S, E>(
        state: &AppState,
        prefix: &str,
        body: S,
        limit: u64,
    ) -> AppResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        StagedBlob::stream_verified(state, prefix, body, limit, None).await
    }

    /// [`StagedBlob::stream`], refusing bytes that do not match the digests
    /// the client declared (`Content-Digest`/`Repr-Digest`, parsed with
    /// [`Expected::from_fields`]): 400 `digest_mismatch`, nothing stored.
    /// Every upload protocol (tus included) can hand its body here.
    pub async fn stream_verified<S, E>(
        state: &AppState,
        prefix: &str,
        body: S,
        limit: u64,
        expected: Option<Expected>,
    ) -> AppResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut staged = StagedBlob::reserve(state, prefix).await?;
        let journal = GcJournal(state);
        let put = state
            .blobs
            .put_stream_verified(&staged.key, body, limit, expected, &journal);
        let stored = match put.await {
            Ok(stored) => stored,
            Err(e) => {
                staged.discard().await;
                return Err(e.into());
            }
        };
        metrics::counter!(crate::metrics::BYTES_IN).increment(stored.size);
        staged.size = stored.size;
        staged.sha256 = stored.sha256;
        Ok(staged)
    }

    /// A server-side copy of the blob `from` (of `size` bytes and digest
    /// `sha256`) under a fresh key below `prefix`.
    pub async fn copy(
        state: &AppState,
        prefix: &str,
        from: &str,
        size: u64,
        sha256: &str,
    ) -> AppResult<StagedBlob> {
        let mut staged = StagedBlob::reserve(state, prefix).await?;
        if let Err(e) = state.blobs.copy(from, &staged.key).await {
            staged.discard().await;
            return Err(e);
        }
        staged.size = size;
        staged.sha256 = sha256.to_string();
        Ok(staged)
    }

    /// A blob written elsewhere (a tus upload's object, assembled part by
    /// part) under `key`, already registered for garbage collection. It is
    /// owned like any staged blob from now on: committed, or deleted.
    pub fn assembled(state: &AppState, key: String, size: u64, sha256: String) -> StagedBlob {
        StagedBlob {
            state: state.clone(),
            key,
            size,
            sha256,
            armed: true,
            shared: false,
            digest_known: true,
        }
    }

    /// Like [`StagedBlob::assembled`], for an object whose whole-content
    /// SHA-256 is not known (parts assembled by the store): `etag` names it,
    /// and the background digest pass hashes it later (SPEC §5).
    pub fn assembled_unhashed(
        state: &AppState,
        key: String,
        size: u64,
        etag: String,
    ) -> StagedBlob {
        let mut blob = StagedBlob::assembled(state, key, size, etag);
        blob.digest_known = false;
        blob
    }

    /// The blob of `source` (another version of the same account), for a
    /// commit that adds a reference to it instead of copying bytes.
    pub fn shared(state: &AppState, source: &FileRow) -> StagedBlob {
        StagedBlob {
            state: state.clone(),
            key: source.blob_key.clone(),
            size: source.size.max(0) as u64,
            sha256: source.sha256.clone().unwrap_or_else(|| source.etag.clone()),
            armed: false,
            shared: true,
            digest_known: source.sha256.is_some(),
        }
    }

    /// A fresh key below `prefix`, registered for garbage collection so that it
    /// is removed unless a commit claims it in time.
    async fn reserve(state: &AppState, prefix: &str) -> AppResult<StagedBlob> {
        let key = format!("{prefix}/{}", uuid::Uuid::now_v7().simple());
        let abandon_at = now_ms() + (state.config.abandoned_upload_ttl as i64) * 1000;
        // Named after this node: if it dies, the next sweep anywhere removes
        // the object (nothing can resume it), not the TTL.
        state
            .meta
            .gc_register_staged(&key, abandon_at, &state.node_id)
            .await?;
        Ok(StagedBlob {
            state: state.clone(),
            key,
            size: 0,
            sha256: String::new(),
            armed: true,
            shared: false,
            digest_known: true,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Deletes the bytes now (a shared blob is left to its other users).
    pub async fn discard(mut self) {
        self.armed = false;
        if !self.shared {
            discard(&self.state, &self.key).await;
        }
    }

    /// Hands the blob to a record that owns it from now on (its GC entry stays
    /// until that record clears it); returns its key.
    pub fn keep(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.key)
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (state, key) = (self.state.clone(), std::mem::take(&mut self.key));
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { discard(&state, &key).await });
            }
            Err(_) => tracing::warn!(blob.key = %key, "staged blob left to the sweeper"),
        }
    }
}

/// Journals store-side multipart uploads next to the blob's GC entry, so the
/// sweeper aborts what a crash left (see `sweeper::abort_and_delete`).
struct GcJournal<'a>(&'a AppState);

#[async_trait::async_trait]
impl crate::blobs::Journal for GcJournal<'_> {
    async fn started(&self, key: &str, upload_id: &str) -> AppResult<()> {
        self.0
            .meta
            .gc_upload_started(key, upload_id, now_ms())
            .await
    }

    async fn finished(&self, key: &str) {
        if let Err(e) = self.0.meta.gc_upload_finished(key).await {
            tracing::warn!(blob.key = key, error = %e, "multipart journal entry not removed");
        }
    }
}

/// What a committed file will be, apart from its bytes: the one description
/// of a file to be written, made by `plan::plan` and kept as JSON by upload
/// sessions (multipart, tus) until their bytes are in.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NewFile {
    /// Sessions stored before it was recorded name it in their row instead.
    #[serde(default)]
    pub account: String,
    pub path: String,
    /// Where to go instead when `path` exists and may not be overwritten.
    pub fallback: Option<String>,
    pub mime: String,
    pub original_file_name: Option<String>,
    pub metadata: Value,
    pub tags: Vec<String>,
    /// Whether this upload may replace an existing file (the principal must
    /// also hold `overwrite`).
    #[serde(default = "yes")]
    pub allow_overwrite: bool,
}

fn yes() -> bool {
    true
}

/// Makes `blob` the file described by `file` (SPEC §5: visible only now), moving
/// to the fallback path once if the target exists and may not be overwritten.
/// If it cannot be committed, the blob is deleted before this returns.
pub async fn commit(
    state: &AppState,
    principal: &Principal,
    file: NewFile,
    blob: StagedBlob,
) -> AppResult<FileRow> {
    let mut row = FileRow {
        account_id: file.account.clone(),
        path: paths::fill_hash(&file.path, &blob.sha256),
        version_id: new_version_id(),
        blob_key: blob.key.clone(),
        size: blob.size as i64,
        mime: file.mime.clone(),
        etag: blob.sha256.clone(),
        original_file_name: file.original_file_name.clone(),
        metadata: object_or_empty(&file.metadata).to_string(),
        tags: serde_json::to_string(&file.tags).map_err(AppError::internal)?,
        created_at: now_ms(),
        sha256: blob.digest_known.then(|| blob.sha256.clone()),
    };
    let claim = if blob.shared {
        BlobClaim::Shared
    } else {
        BlobClaim::Staged
    };
    match try_commit(state, principal, &mut row, &file, claim).await {
        Ok(()) => {
            crate::faults::point(crate::faults::AFTER_COMMIT, &row.account_id).await;
            blob.keep();
            Ok(row)
        }
        Err(e) => {
            blob.discard().await;
            Err(e)
        }
    }
}

async fn try_commit(
    state: &AppState,
    principal: &Principal,
    row: &mut FileRow,
    file: &NewFile,
    claim: BlobClaim,
) -> AppResult<()> {
    let account = row.account_id.clone();
    for attempt in 0..2 {
        paths::validate_file_path(&row.path)?;
        principal.require(&account, Need::create(&row.path))?;
        let overwrite = file.allow_overwrite && principal.may(&account, Need::overwrite(&row.path));
        match state.meta.commit_file(row, overwrite, claim).await? {
            CommitOutcome::Committed {
                dropped_blobs,
                blob_key,
            } => {
                row.blob_key = blob_key;
                state.files.forget(&account, &row.path).await;
                // Bytes in: what was received, none for a shared blob (copies, restores).
                let bytes_in = if matches!(claim, BlobClaim::Shared) {
                    0
                } else {
                    row.size
                };
                state
                    .daily
                    .add(&account, crate::meta::Daily::Upload { bytes_in });
                for key in dropped_blobs {
                    discard(state, &key).await;
                }
                return Ok(());
            }
            CommitOutcome::Exists if attempt == 0 => {
                let next = fallback_or_conflict(&row.path, &file.fallback)?;
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
    if path.contains(paths::HASH_VARIABLE)
        || principal.may(account, Need::overwrite(path))
        || state.meta.get_file(account, path).await?.is_none()
    {
        return Ok(path.clone());
    }
    fallback_or_conflict(path, &resolved.fallback)
}

fn fallback_or_conflict(path: &str, fallback: &Option<String>) -> AppResult<String> {
    match fallback {
        Some(f) if f != path => Ok(f.clone()),
        _ => Err(AppError::FileAlreadyExists {
            path: path.to_string(),
        }),
    }
}

/// A fresh version id (time-ordered).
pub fn new_version_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Deletes a blob that will not be (or is no longer) used, then forgets its GC
/// entry. If the delete fails the entry stays and the sweeper retries.
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

/// Runs an upload to completion in its own task, even if the client goes away
/// and the handler is dropped: a commit is never cut between the database and
/// the cleanup of its blob. The task keeps the request's rate-limit slot.
pub async fn detached<F, T>(upload: F) -> AppResult<T>
where
    F: Future<Output = AppResult<T>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(crate::ratelimit::carry(upload))
        .await
        .map_err(AppError::internal)?
}

fn object_or_empty(v: &Value) -> Value {
    match v {
        Value::Object(_) => v.clone(),
        _ => Value::Object(Default::default()),
    }
}
