//! Multipart (resumable) uploads, the protocol the Bytescale SDK speaks (SPEC §5.3):
//! begin → part URLs → part PUTs (any order, retried, any node) → confirmations;
//! the confirmation that completes the set commits the file. Where the store
//! allows, parts go straight into the final object and completion copies
//! nothing ([`in_place`]); otherwise each part attempt is its own object and
//! completion assembles them into a new one.

mod abort;
mod in_place;

pub use abort::abort;

use crate::auth::{signed, Need, Principal};
use crate::domain::ingest::{self, detached, discard, NewFile, StagedBlob};
use crate::domain::paths;
use crate::domain::plan::{self, Intent, Uploader};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, FileRow, UploadPart, UploadSession};
use crate::state::AppState;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every part but the last is this big.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Scope string bound into part URL signatures.
const PART_SCOPE: &str = "upload-part";

/// BeginMultipartUpload's request (SPEC §5.3): the file's size, and where
/// and what it will be (`path` as in Bytescale's UploadFromUrl). Its schema
/// in `/openapi.json` is derived from this struct.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeginRequest {
    pub size: u64,
    pub protocol: Option<String>,
    pub mime: Option<String>,
    pub original_file_name: Option<String>,
    /// `{folderPath, fileName, …}` or a string.
    #[schema(value_type = Option<Object>)]
    pub path: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
}

/// What the session remembers: the file it will become (the plan's), and
/// who began it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub file: NewFile,
    /// [`Principal::owner`] of the principal that began the upload: only it
    /// may continue (SPEC §5.3 step 6).
    #[serde(default)]
    owner: Option<String>,
}

/// A part's range and where its bytes go.
pub struct PartTicket {
    pub upload_id: String,
    pub index: u64,
    pub inclusive_start: u64,
    pub inclusive_end: i64,
    pub upload_url: UploadUrl,
}

/// A part's `uploadUrl`.
pub enum UploadUrl {
    /// stowage's own part route, signed (path and query; http/ puts the
    /// public URL in front).
    Stowage(String),
    /// A presigned S3 `UploadPart` URL (`STOWAGE_DIRECT_PARTS`), absolute.
    Store(String),
}

/// A begun upload: its session, the first part, and the file it will become.
pub struct Begun {
    pub session: UploadSession,
    pub spec: Spec,
    pub first: PartTicket,
}

/// What a part confirmation did.
pub enum Confirmed {
    Pending,
    Completed { etag: String },
}

fn part_range(size: u64, idx: u64) -> (u64, i64) {
    let start = idx * PART_SIZE;
    let end = (start + PART_SIZE).min(size) as i64 - 1;
    (start, end)
}

/// How many bytes part `idx` holds.
fn part_len(size: u64, idx: u64) -> u64 {
    let (start, end) = part_range(size, idx);
    (end + 1) as u64 - start
}

fn part_count(size: u64) -> u64 {
    size.div_ceil(PART_SIZE).max(1)
}

fn part_path(account: &str, id: &str, idx: u64) -> String {
    format!("/v2/accounts/{account}/uploads/{id}/parts/{idx}/bytes")
}

/// Where a part's attempts live: `<prefix>/<uuid>` each.
fn part_prefix(account: &str, id: &str, idx: u64) -> String {
    format!("{account}/uploads/{id}/{idx}")
}

/// Whether parts go straight to the store (`STOWAGE_DIRECT_PARTS` on S3).
fn direct(state: &AppState) -> bool {
    state.config.direct_parts && state.blobs.presigns_parts()
}

async fn ticket(state: &AppState, s: &UploadSession, idx: u64) -> AppResult<PartTicket> {
    let (start, end) = part_range(s.size as u64, idx);
    let upload_url = match (&s.blob_key, &s.multipart_id) {
        (Some(key), Some(mp)) if direct(state) => {
            let left = (s.expires_at - now_ms()).max(1000) as u64;
            let ttl = std::time::Duration::from_millis(left.min(7 * 86_400_000));
            let len = part_len(s.size as u64, idx);
            UploadUrl::Store(state.blobs.presign_part(key, mp, idx + 1, len, ttl).await?)
        }
        _ => {
            let path = part_path(&s.account_id, &s.id, idx);
            let q = signed::query(state.master_key(), PART_SCOPE, &path, s.expires_at / 1000);
            UploadUrl::Stowage(format!("{path}?{q}"))
        }
    };
    Ok(PartTicket {
        upload_id: s.id.clone(),
        index: idx,
        inclusive_start: start,
        inclusive_end: end,
        upload_url,
    })
}

pub async fn begin(
    state: &AppState,
    principal: &Principal,
    account: &str,
    req: BeginRequest,
) -> AppResult<Begun> {
    if let Some(p) = &req.protocol {
        if p != "1.1" {
            return Err(AppError::invalid_request(
                format!("Upload protocol {p:?} is not supported."),
                "Send \"protocol\": \"1.1\".",
            ));
        }
    }
    let intent = Intent {
        account: account.to_string(),
        path: Some(paths::parse_path(req.path.as_ref())?),
        original_file_name: req.original_file_name,
        mime: req.mime,
        declared_size: Some(req.size),
        metadata: req.metadata.unwrap_or_default(),
        tags: req.tags.unwrap_or_default(),
        path_before_bytes: true,
        ..Intent::default()
    };
    let planned = plan::plan(state, Uploader::new(principal.clone()), intent).await?;
    let spec = Spec {
        file: planned.file,
        owner: principal.owner(),
    };
    let session = open_session(state, account, &spec, req.size).await?;
    let first = ticket(state, &session, 0).await?;
    Ok(Begun {
        session,
        spec,
        first,
    })
}

/// Records a new session (starting its final object first when parts go
/// straight into it).
async fn open_session(
    state: &AppState,
    account: &str,
    spec: &Spec,
    size: u64,
) -> AppResult<UploadSession> {
    let now = now_ms();
    let mut session = UploadSession {
        id: uuid::Uuid::new_v4().simple().to_string(),
        account_id: account.to_string(),
        status: "open".into(),
        spec: serde_json::to_string(spec).map_err(AppError::internal)?,
        size: size as i64,
        part_size: PART_SIZE as i64,
        part_count: part_count(size) as i64,
        created_at: now,
        expires_at: now + (state.config.abandoned_upload_ttl as i64) * 1000,
        blob_key: None,
        multipart_id: None,
    };
    // A 0-byte upload is never a store multipart upload: S3 servers refuse
    // an empty `UploadPart` (Garage: 400 "Empty body").
    if (direct(state) && size > 0) || state.blobs.parts_in_place(part_count(size)) {
        in_place::begin(state, &mut session).await?;
    }
    state.meta.create_upload(&session).await?;
    Ok(session)
}

/// Loads a session the principal may continue: the one that began it (any
/// other principal is told 404, as for an unknown id), still allowed to
/// create on its path.
async fn session(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> AppResult<(UploadSession, Spec)> {
    let unknown = || AppError::NotFound {
        what: format!("Upload {id}"),
    };
    if principal.account.as_deref() != Some(account) {
        principal.require(account, Need::create("/"))?;
    }
    let s = state
        .meta
        .get_upload(account, id)
        .await?
        .ok_or_else(unknown)?;
    let spec: Spec = serde_json::from_str(&s.spec).map_err(AppError::internal)?;
    // A session stored before owner binding (no owner) is nobody's: refused
    // like an unknown id until it expires.
    if spec.owner.is_none() || spec.owner != principal.owner() {
        return Err(unknown());
    }
    principal.require(account, Need::create(&spec.file.path))?;
    Ok((s, spec))
}

fn check_index(s: &UploadSession, idx: u64) -> AppResult<()> {
    if idx >= s.part_count as u64 {
        return Err(AppError::invalid_request(
            format!(
                "Part {idx} does not exist; this upload has {} parts.",
                s.part_count
            ),
            "Use part indexes from 0 to count − 1.",
        ));
    }
    Ok(())
}

pub async fn get_part(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
    idx: u64,
) -> AppResult<PartTicket> {
    let (s, _) = session(state, principal, account, id).await?;
    check_index(&s, idx)?;
    ticket(state, &s, idx).await
}

/// Checks a part URL's signature and that its session is open; returns the
/// session and the part's size.
async fn open_part(
    state: &AppState,
    account: &str,
    id: &str,
    idx: u64,
    signature: signed::UrlSignature<'_>,
) -> AppResult<(UploadSession, u64)> {
    let path = part_path(account, id, idx);
    let now = chrono::Utc::now().timestamp();
    signed::verify(state.master_key(), PART_SCOPE, &path, signature, now)?;
    let s = state
        .meta
        .get_upload(account, id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("Upload {id}"),
        })?;
    check_index(&s, idx)?;
    if s.status != "open" {
        return Err(already_complete());
    }
    let len = part_len(s.size as u64, idx);
    Ok((s, len))
}

fn already_complete() -> AppError {
    AppError::invalid_request(
        "This upload is already complete.",
        "Begin a new upload to send the file again.",
    )
}

fn part_too_large(idx: u64, expected: u64) -> AppError {
    AppError::invalid_request(
        format!("Part {idx} is larger than its range ({expected} bytes)."),
        "Send exactly the bytes of the part's range.",
    )
}

/// What a part PUT declares about its bytes.
#[derive(Debug, Default)]
pub struct PartBody {
    /// `Content-Length`.
    pub declared: Option<u64>,
    /// The part's own `Content-Digest`/`Repr-Digest` (RFC 9530).
    pub digest: Option<crate::blobs::digest::Expected>,
}

/// Stores one part's bytes (the signed URL is the credential). Returns its ETag.
pub async fn put_part<S, E>(
    state: &AppState,
    account: &str,
    id: &str,
    idx: u64,
    signature: signed::UrlSignature<'_>,
    checks: PartBody,
    body: S,
) -> AppResult<String>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let declared = checks.declared;
    let (session, expected) = open_part(state, account, id, idx, signature).await?;
    if declared.is_some_and(|d| d != expected) {
        return Err(AppError::invalid_request(
            format!(
                "Part {idx} must be {expected} bytes; the request declares {}.",
                declared.unwrap_or(0)
            ),
            "Send exactly the bytes of the part's range.",
        ));
    }
    if session.blob_key.is_some() {
        return in_place::put_part(state, &session, idx, expected, checks, body).await;
    }
    // Each attempt gets its own object, so a failed or late retry never harms
    // the part already stored (or one being assembled).
    let prefix = part_prefix(account, id, idx);
    let blob = StagedBlob::stream_verified(state, &prefix, body, expected, checks.digest)
        .await
        .map_err(|e| match e {
            AppError::FileTooLarge { .. } => part_too_large(idx, expected),
            other => other,
        })?;
    if blob.size != expected {
        let got = blob.size;
        blob.discard().await;
        return Err(AppError::UploadIncomplete {
            message: format!("Part {idx} had {got} bytes; its range is {expected} bytes."),
        });
    }
    let part = UploadPart {
        upload_id: id.to_string(),
        idx: idx as i64,
        etag: blob.sha256.clone(),
        size: blob.size as i64,
        confirmed: false,
        blob_key: blob.key().to_string(),
        store_part: None,
    };
    match state.meta.record_part(&part).await? {
        (true, replaced) => {
            // The part record owns the bytes now (its GC entry stays until
            // the session completes or expires).
            let etag = blob.sha256.clone();
            blob.keep();
            if let Some(old) = replaced {
                discard(state, &old).await;
            }
            Ok(etag)
        }
        (false, _) => {
            blob.discard().await;
            Err(already_complete())
        }
    }
}

/// Confirms a part; the confirmation that completes the set commits the file.
pub async fn complete_part(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
    idx: u64,
    etag: &str,
) -> AppResult<Confirmed> {
    let (s, spec) = session(state, principal, account, id).await?;
    check_index(&s, idx)?;
    let etag = etag.trim().trim_start_matches("W/").trim_matches('"');
    if direct(state) && s.multipart_id.is_some() {
        in_place::record_direct_part(state, &s, idx, etag).await?;
    }
    // From the confirmation on, the work runs in its own task: a client that
    // goes away can cut neither a claim from its completion nor a commit
    // from the hand-over of its blob (SPEC §5: nothing lost, nothing left).
    let (state, principal) = (state.clone(), principal.clone());
    let etag = etag.to_string();
    detached(async move { confirm(&state, &principal, s, spec, idx, &etag).await }).await
}

/// Records a part's confirmation; the one that completes the set claims the
/// session and commits the file.
async fn confirm(
    state: &AppState,
    principal: &Principal,
    s: UploadSession,
    spec: Spec,
    idx: u64,
    etag: &str,
) -> AppResult<Confirmed> {
    let id = s.id.as_str();
    if !state.meta.confirm_part(id, idx as i64, etag).await? {
        return Err(AppError::invalid_request(
            format!("Part {idx} has not been uploaded with ETag {etag:?}."),
            "PUT the part's bytes to its uploadUrl first, then send the ETag header it returned.",
        ));
    }
    if !state.meta.claim_upload(id).await? {
        return Ok(Confirmed::Pending);
    }
    let parts = state.meta.list_parts(id).await?;
    if s.blob_key.is_some() {
        let row = in_place::complete(state, principal, &s, &spec, &parts).await?;
        state.meta.delete_upload(id).await?;
        return Ok(Confirmed::Completed { etag: row.etag });
    }
    match assemble(state, principal, &s, &spec, &parts).await {
        Ok(row) => {
            state.meta.delete_upload(id).await?;
            for p in &parts {
                discard(state, &p.blob_key).await;
            }
            Ok(Confirmed::Completed { etag: row.etag })
        }
        Err(e) => {
            // Let a retried confirmation try again.
            state.meta.set_upload_status(id, "open").await?;
            Err(e)
        }
    }
}

/// Streams the parts, in order, into one new blob and commits it.
async fn assemble(
    state: &AppState,
    principal: &Principal,
    s: &UploadSession,
    spec: &Spec,
    parts: &[UploadPart],
) -> AppResult<FileRow> {
    let account = s.account_id.clone();
    if parts.len() as i64 != s.part_count || parts.iter().any(|p| !p.confirmed) {
        return Err(AppError::internal(
            "assembling an upload with missing parts",
        ));
    }
    // A reader task feeds the parts, in order, through a small channel.
    let parts: Vec<(String, u64)> = parts
        .iter()
        .map(|p| (p.blob_key.clone(), p.size as u64))
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let blobs = state.blobs.clone();
    let reader = tokio::spawn(async move {
        for (key, len) in parts {
            match blobs.get_range(&key, 0..len).await {
                Ok(mut chunks) => {
                    while let Some(c) = chunks.next().await {
                        if tx.send(c.map_err(|e| e.to_string())).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string())).await;
                    return;
                }
            }
        }
    });
    let body =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let put = StagedBlob::stream(state, &account, body, s.size as u64).await;
    reader.abort();
    let blob = match put {
        Ok(blob) if blob.size == s.size as u64 => blob,
        Err(e @ AppError::InsufficientStorage { .. }) => return Err(e),
        Ok(_) | Err(_) => {
            return Err(AppError::Unavailable {
                cause: "a stored part could not be read back".into(),
            })
        }
    };
    ingest::commit(state, principal, spec.new_file(account), blob).await
}

impl Spec {
    /// The file the session becomes, for [`ingest::commit`] (overwrite was
    /// decided at `begin`; the commit re-checks the permission).
    fn new_file(&self, account: String) -> NewFile {
        NewFile {
            account,
            ..self.file.clone()
        }
    }
}

pub async fn remaining_parts(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> AppResult<Vec<i64>> {
    let (s, _) = session(state, principal, account, id).await?;
    let confirmed: std::collections::HashSet<i64> = state
        .meta
        .list_parts(id)
        .await?
        .into_iter()
        .filter(|p| p.confirmed)
        .map(|p| p.idx)
        .collect();
    Ok((0..s.part_count)
        .filter(|i| !confirmed.contains(i))
        .collect())
}

/// Removes expired sessions and their parts' bytes (run by the sweeper).
pub async fn sweep_expired(state: &AppState) -> AppResult<usize> {
    let expired = state.meta.expired_uploads(now_ms(), 200).await?;
    for u in &expired {
        in_place::SessionLocks::forget(&u.id);
        abort::remove_bytes(state, &u.account_id, &u.id, u.blob_key.as_deref()).await?;
        state.meta.delete_upload(&u.id).await?;
    }
    Ok(expired.len())
}
