//! tus 1.0 resumable uploads (SPEC §5.6): creation (with upload), HEAD,
//! PATCH, termination, expiry. Each upload is a `tus_uploads` row that any
//! node can continue, bound to the principal that created it; its bytes go
//! straight into the final object (`blobs::resumable`), which becomes a file
//! through `ingest::commit` when the last byte is in.

mod checkpoint;
mod hash;
mod patch;

pub use hash::ResumableSha256;
pub use patch::{patch, Checksum, ChecksumAlgorithm, PatchRequest};

use crate::auth::{Need, Principal};
use crate::domain::ingest::{discard, NewFile};
use crate::domain::paths::PathSpec;
use crate::domain::plan::{self, Intent, Uploader};
use crate::error::{AppError, AppResult, TusError};
use crate::meta::{now_ms, TusUpload};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A new upload, as `POST …/tus` describes it (`Upload-Length`, `Upload-Metadata`).
#[derive(Debug, Default)]
pub struct CreateRequest {
    pub length: u64,
    /// `filename`: the original file name.
    pub filename: Option<String>,
    /// `filetype`: the MIME type.
    pub filetype: Option<String>,
    /// `filePath`, or `folderPath`/`fileName`/`fileNameFallback`.
    pub path: Option<PathSpec>,
    pub metadata: Value,
    pub tags: Vec<String>,
    /// The `Upload-Metadata` header as sent, which HEAD repeats.
    pub raw_metadata: Option<String>,
}

/// What the upload will become (the plan's file, kept as JSON in the row).
#[derive(Debug, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub file: NewFile,
    #[serde(default)]
    raw_metadata: Option<String>,
}

/// What `HEAD` (and every successful PATCH) reports.
#[derive(Debug)]
pub struct Status {
    pub id: String,
    pub account: String,
    pub length: u64,
    pub offset: u64,
    /// Epoch ms.
    pub expires_at: i64,
    /// The stored file's path once the upload is complete.
    pub file_path: Option<String>,
    /// `Upload-Metadata` as the creation sent it.
    pub raw_metadata: Option<String>,
}

impl Status {
    fn of(row: &TusUpload) -> Status {
        let spec: Option<Spec> = serde_json::from_str(&row.spec).ok();
        Status {
            raw_metadata: spec.and_then(|s| s.raw_metadata),
            id: row.id.clone(),
            account: row.account_id.clone(),
            length: row.upload_length as u64,
            offset: row.upload_offset as u64,
            expires_at: row.expires_at,
            file_path: row.file_path.clone(),
        }
    }
}

/// A created upload, and the principal that continues it in this request
/// (creation-with-upload): for an upload token, the spent token's.
pub struct Created {
    pub status: Status,
    pub principal: Principal,
}

/// `POST …/tus`: plans the file (SPEC §5.1: 409 now for an existing path
/// without `overwrite`, 413 over the account's limit, 415 for a type it does
/// not allow; an upload token is spent once the rest checks out), and
/// starts the object.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    account: &str,
    req: CreateRequest,
) -> AppResult<Created> {
    let intent = Intent {
        account: account.to_string(),
        path: req.path,
        original_file_name: req.filename,
        mime: req.filetype,
        declared_size: Some(req.length),
        metadata: req.metadata,
        tags: req.tags,
        ..Intent::default()
    };
    let planned = plan::plan(state, Uploader::new(principal.clone()), intent).await?;
    let principal = planned.principal;
    let owner = principal.owner().ok_or(AppError::Unauthorized)?;
    let spec = Spec {
        file: planned.file,
        raw_metadata: req.raw_metadata,
    };
    let row = start(state, account, owner, &spec, req.length).await?;
    let mut status = Status::of(&row);
    if req.length == 0 {
        status = patch::complete_empty(state, &principal, row, spec).await?;
    }
    Ok(Created { status, principal })
}

/// `Tus-Max-Size`: the account's limit for its own credentials, the server
/// default otherwise.
pub async fn max_size(state: &AppState, principal: Option<&Principal>, account: &str) -> u64 {
    let own = principal.is_some_and(|p| p.account.as_deref() == Some(account));
    if own {
        if let Ok(acc) = plan::load_account(state, account).await {
            return plan::limits(state, &acc).max_file_size;
        }
    }
    state.config.max_file_size
}

/// Registers the object for GC, starts it in the store, and records the row.
async fn start(
    state: &AppState,
    account: &str,
    owner: String,
    spec: &Spec,
    length: u64,
) -> AppResult<TusUpload> {
    let now = now_ms();
    let expires_at = now + (state.config.abandoned_upload_ttl as i64) * 1000;
    let blob_key = format!("{account}/{}", uuid::Uuid::now_v7().simple());
    state.meta.gc_register(&blob_key, expires_at).await?;
    let multipart_id = match state.blobs.begin_resumable(&blob_key).await {
        Ok(id) => id,
        Err(e) => {
            discard(state, &blob_key).await;
            return Err(e);
        }
    };
    let row = TusUpload {
        id: uuid::Uuid::new_v4().simple().to_string(),
        account_id: account.to_string(),
        owner,
        status: "open".into(),
        spec: serde_json::to_string(spec).map_err(AppError::internal)?,
        upload_length: length as i64,
        upload_offset: 0,
        blob_key: blob_key.clone(),
        multipart_id: multipart_id.clone(),
        parts: "[]".into(),
        tail_key: None,
        tail_size: 0,
        hash_state: ResumableSha256::default().save(),
        lock_token: None,
        lock_until: 0,
        file_path: None,
        created_at: now,
        expires_at,
    };
    if let Err(e) = state.meta.create_tus(&row).await {
        let _ = state
            .blobs
            .abort_resumable(&blob_key, multipart_id.as_deref())
            .await;
        discard(state, &blob_key).await;
        return Err(e);
    }
    Ok(row)
}

/// The upload `id` if `principal` created it: anyone else is told 404, the
/// same answer as for an id that does not exist (SPEC §5.6).
pub(crate) async fn owned(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> AppResult<(TusUpload, Spec)> {
    if principal.account.as_deref() != Some(account) {
        principal.require(account, Need::create("/"))?;
    }
    let unknown = || AppError::NotFound {
        what: "Upload".into(),
    };
    let row = state.meta.get_tus(account, id).await?.ok_or_else(unknown)?;
    if principal.owner().as_deref() != Some(row.owner.as_str()) {
        return Err(unknown());
    }
    if row.status == "open" && row.expires_at <= now_ms() {
        return Err(AppError::Tus(TusError::Expired));
    }
    let spec: Spec = serde_json::from_str(&row.spec).map_err(AppError::internal)?;
    principal.require(account, Need::create(&spec.file.path))?;
    Ok((row, spec))
}

/// `HEAD …/tus/{id}`.
pub async fn status(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> AppResult<Status> {
    let (row, _) = owned(state, principal, account, id).await?;
    Ok(Status::of(&row))
}

/// `DELETE …/tus/{id}` (termination): an unfinished upload's bytes are
/// removed; a finished one's record is forgotten (its file stays: files are
/// deleted through the files API).
pub async fn terminate(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> AppResult<()> {
    let (row, _) = owned(state, principal, account, id).await?;
    if row.status == "done" {
        return state.meta.delete_tus(id).await;
    }
    if !state.meta.delete_tus_unlocked(id, now_ms()).await? {
        return Err(AppError::Tus(TusError::Locked));
    }
    // If the store refused, the GC entries of the object and tail remain.
    remove_bytes(state, &row).await;
    Ok(())
}

/// Aborts an unfinished upload's object and removes its tail; false if the
/// store refused (the caller leaves the row for the next sweep).
async fn remove_bytes(state: &AppState, row: &TusUpload) -> bool {
    if let Err(e) = state
        .blobs
        .abort_resumable(&row.blob_key, row.multipart_id.as_deref())
        .await
    {
        tracing::warn!(tus.id = %row.id, error = %e, "tus object not aborted; sweeper will retry");
        return false;
    }
    discard(state, &row.blob_key).await;
    if let Some(tail) = &row.tail_key {
        discard(state, tail).await;
    }
    true
}

/// Removes expired uploads (run by the sweeper): unfinished ones with their
/// bytes, finished ones' records only. Returns how many went.
pub async fn sweep_expired(state: &AppState) -> AppResult<usize> {
    let expired = state.meta.expired_tus(now_ms(), 200).await?;
    for row in &expired {
        if row.status == "done" || remove_bytes(state, row).await {
            state.meta.delete_tus(&row.id).await?;
        }
    }
    Ok(expired.len())
}
