//! `PATCH …/tus/{id}`: append a chunk at the upload's offset.
//!
//! The PATCH takes the row's lease (conditioned on its offset), streams the
//! chunk into the object (`blobs::resumable`), hashing it into the upload's
//! resumable SHA-256 and the chunk's `Upload-Checksum`, and then moves the
//! offset in the UPDATE that releases the lease. A long PATCH without a
//! checksum also moves it at checkpoints while bytes flow (`checkpoint.rs`),
//! so a crash loses only the bytes since the last one. Bytes past the
//! recorded offset do not count: a chunk that fails its checksum, goes past
//! `Upload-Length`, or is cut by a crash is overwritten (from the last
//! checkpoint) by the next PATCH. A chunk cut by the client (without a
//! checksum) keeps the bytes that arrived, as tus expects.
//! The PATCH that brings the offset to the length completes the object and
//! commits the file.

use super::checkpoint::{Checkpoints, Committed};
use super::{owned, ResumableSha256, Spec, Status};
use crate::auth::Principal;
use crate::blobs::digest::{Digester, Expected, Mismatch};
use crate::blobs::meter::{Meter, Stop};
use crate::blobs::resumable::ResumeFrom;
use crate::domain::ingest::{self, discard, NewFile, StagedBlob};
use crate::error::{AppError, AppResult, TusError};
use crate::meta::{now_ms, TusProgress, TusUpload};
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;
use sha1::Digest;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a lease lasts unless renewed: a node that dies mid-PATCH blocks
/// the upload this long at most (a client retrying after the crash goes on
/// within seconds, not minutes).
const LEASE: Duration = Duration::from_secs(15);
/// How often a live PATCH renews its lease, whether or not bytes arrive.
const RENEW_EVERY: Duration = Duration::from_secs(4);

/// A PATCH's hold on its upload: the lease token, renewed by a heartbeat
/// task for as long as the PATCH lives (dropped: the heartbeat stops). If a
/// renewal fails (the lease was lost), `lost` is set and the PATCH writes
/// nothing more.
struct Lease {
    token: String,
    lost: Arc<AtomicBool>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn hold(state: &AppState, id: &str, token: String) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let (state, id, beat_token, flag) =
            (state.clone(), id.to_string(), token.clone(), lost.clone());
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let until = now_ms() + LEASE.as_millis() as i64;
                if !matches!(
                    state.meta.renew_tus_lock(&id, &beat_token, until).await,
                    Ok(true)
                ) {
                    flag.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        Lease {
            token,
            lost,
            heartbeat,
        }
    }

    fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl std::ops::Deref for Lease {
    type Target = str;
    fn deref(&self) -> &str {
        &self.token
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Sha256,
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
#[derive(Clone, Debug)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub digest: Vec<u8>,
}

#[derive(Debug)]
pub struct PatchRequest {
    /// `Upload-Offset`.
    pub offset: u64,
    /// `Content-Length`, when sent.
    pub declared: Option<u64>,
    pub checksum: Option<Checksum>,
    /// `Content-Digest`/`Repr-Digest` over this PATCH's content (RFC 9530):
    /// checked like `Upload-Checksum`, but a mismatch is 400 `digest_mismatch`.
    pub digest: Option<Expected>,
}

enum ChunkHasher {
    None,
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl ChunkHasher {
    fn new(c: &Option<Checksum>) -> ChunkHasher {
        match c.as_ref().map(|c| c.algorithm) {
            None => ChunkHasher::None,
            Some(ChecksumAlgorithm::Sha1) => ChunkHasher::Sha1(sha1::Sha1::new()),
            Some(ChecksumAlgorithm::Sha256) => ChunkHasher::Sha256(sha2::Sha256::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            ChunkHasher::None => {}
            ChunkHasher::Sha1(h) => h.update(b),
            ChunkHasher::Sha256(h) => h.update(b),
        }
    }
    fn matches(self, c: &Option<Checksum>) -> bool {
        let got = match self {
            ChunkHasher::None => return true,
            ChunkHasher::Sha1(h) => h.finalize().to_vec(),
            ChunkHasher::Sha256(h) => h.finalize().to_vec(),
        };
        c.as_ref().is_some_and(|c| c.digest == got)
    }
}

/// What streaming one chunk did.
struct Streamed {
    received: u64,
    /// The client's body failed after `received` bytes.
    cut: Option<String>,
    hash: ResumableSha256,
    checksum_ok: bool,
    digest: Result<(), Mismatch>,
}

/// Appends the body at `req.offset`; the chunk that completes the upload commits the file.
pub async fn patch<S, E>(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
    req: PatchRequest,
    body: S,
) -> AppResult<Status>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let (row, spec) = owned(state, principal, account, id).await?;
    let (length, offset) = (row.upload_length as u64, row.upload_offset as u64);
    if row.status == "done" && req.offset == length {
        // A retried last PATCH whose answer was lost.
        return Ok(Status::of(&row));
    }
    if req.offset != offset || row.status == "done" {
        return Err(AppError::Tus(TusError::OffsetMismatch {
            expected: offset,
            got: req.offset,
        }));
    }
    if req.declared.is_some_and(|d| offset + d > length) {
        return Err(AppError::Tus(TusError::PastLength { length }));
    }
    let lease = Lease::hold(state, id, lock(state, &row).await?);
    let result = write_chunk(state, principal, &row, spec, &lease, &req, body).await;
    if result.is_err() {
        // Releases the lease if nothing else did (a no-op once progress is saved).
        let _ = state.meta.unlock_tus(id, &lease).await;
    }
    result
}

/// Takes the upload's lease, or says why not (409: the offset moved; 423: a
/// PATCH is in progress).
async fn lock(state: &AppState, row: &TusUpload) -> AppResult<String> {
    let lease = uuid::Uuid::new_v4().simple().to_string();
    let now = now_ms();
    let until = now + LEASE.as_millis() as i64;
    if state
        .meta
        .lock_tus(&row.id, row.upload_offset, &lease, now, until)
        .await?
    {
        return Ok(lease);
    }
    let current = state.meta.get_tus(&row.account_id, &row.id).await?;
    match current {
        // A live lease: its PATCH may still move the offset (checkpoints).
        Some(c)
            if c.status == "open"
                && (c.upload_offset == row.upload_offset || c.lock_until > now) =>
        {
            Err(AppError::Tus(TusError::Locked))
        }
        Some(c) => Err(AppError::Tus(TusError::OffsetMismatch {
            expected: c.upload_offset as u64,
            got: row.upload_offset as u64,
        })),
        None => Err(AppError::NotFound {
            what: "Upload".into(),
        }),
    }
}

async fn write_chunk<S, E>(
    state: &AppState,
    principal: &Principal,
    row: &TusUpload,
    spec: Spec,
    lease: &Lease,
    req: &PatchRequest,
    body: S,
) -> AppResult<Status>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let (length, offset) = (row.upload_length as u64, row.upload_offset as u64);
    let committed = Committed::of(row)?;
    let mut writer = state
        .blobs
        .resume(ResumeFrom {
            key: &row.blob_key,
            multipart_id: row.multipart_id.as_deref(),
            offset,
            length,
            parts_done: committed.parts.len(),
            tail_key: row.tail_key.as_deref(),
        })
        .await?;
    let mut checkpoints = Checkpoints {
        state,
        row,
        lease,
        enabled: req.checksum.is_none() && req.digest.is_none(),
        committed,
    };
    let streamed = stream_into(row, lease, req, &mut writer, &mut checkpoints, body).await?;
    if !streamed.checksum_ok {
        return Err(AppError::Tus(TusError::ChecksumMismatch));
    }
    if let Some(cut) = &streamed.cut {
        if req.checksum.is_some() || req.digest.is_some() || streamed.received == 0 {
            return Err(incomplete(cut));
        }
    }
    streamed.digest.clone()?;
    let new_offset = offset + streamed.received;
    let last = new_offset == length;
    let written = writer.finish(last).await?;
    let mut committed = checkpoints.committed;
    committed.parts.extend(written.new_parts);
    metrics::counter!(crate::metrics::BYTES_IN).increment(streamed.received);
    if last {
        return complete(state, principal, row, spec, lease, committed, streamed.hash).await;
    }
    save(
        state,
        row,
        lease,
        new_offset,
        committed,
        written.tail,
        &streamed.hash,
    )
    .await?;
    if let Some(cut) = streamed.cut {
        return Err(incomplete(&cut));
    }
    let mut status = Status::of(row);
    status.offset = new_offset;
    Ok(status)
}

fn incomplete(cause: &str) -> AppError {
    AppError::UploadIncomplete {
        message: format!("The PATCH body ended early or failed: {cause}."),
    }
}

/// Streams the body into the writer, hashing; stops (keeping nothing) past
/// the upload's length.
async fn stream_into<S, E>(
    row: &TusUpload,
    lease: &Lease,
    req: &PatchRequest,
    writer: &mut crate::blobs::resumable::PartWriter,
    checkpoints: &mut Checkpoints<'_>,
    body: S,
) -> AppResult<Streamed>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let room = (row.upload_length - row.upload_offset) as u64;
    let mut hash = ResumableSha256::load(&row.hash_state)?;
    let mut chunk_hash = ChunkHasher::new(&req.checksum);
    let digester = req.digest.clone().map(|e| Digester::new(Some(e)));
    let mut meter = Meter::new(body, room, digester);
    let mut cut = None;
    let mut written = 0u64;
    while let Some(next) = meter.next().await {
        let chunk = match next {
            Ok(c) => c,
            Err(Stop::Body(e)) => {
                cut = Some(e);
                break;
            }
            Err(Stop::TooLarge { .. }) => {
                return Err(AppError::Tus(TusError::PastLength {
                    length: row.upload_length as u64,
                }))
            }
        };
        if lease.lost() {
            return Err(AppError::Tus(TusError::Locked));
        }
        // Cut at the writer's boundaries, so that a checkpoint's hash state
        // covers exactly the bytes it records.
        let mut rest = chunk;
        while !rest.is_empty() {
            let take = writer.to_boundary().unwrap_or(usize::MAX).min(rest.len());
            let piece = rest.split_to(take);
            hash.update(&piece);
            chunk_hash.update(&piece);
            writer.write(&piece).await?;
            written += take as u64;
            checkpoints.maybe(writer, written, &hash).await?;
        }
    }
    Ok(Streamed {
        received: meter.received(),
        cut,
        hash,
        checksum_ok: chunk_hash.matches(&req.checksum),
        digest: meter.verify().map(|_| ()),
    })
}

/// Records a PATCH's progress: the new tail (a GC-registered small object),
/// the parts, the offset and the hash, in the UPDATE that releases the lease.
async fn save(
    state: &AppState,
    row: &TusUpload,
    lease: &str,
    offset: u64,
    committed: Committed,
    tail: Bytes,
    hash: &ResumableSha256,
) -> AppResult<()> {
    let tail_size = tail.len() as i64;
    let tail_key = if tail.is_empty() {
        None
    } else {
        let key = format!(
            "{}/tus/{}/{}",
            row.account_id,
            row.id,
            uuid::Uuid::now_v7().simple()
        );
        state.meta.gc_register(&key, row.expires_at).await?;
        if let Err(e) = state.blobs.put_bytes(&key, tail).await {
            discard(state, &key).await;
            return Err(e);
        }
        Some(key)
    };
    let progress = TusProgress {
        offset: offset as i64,
        parts: serde_json::to_string(&committed.parts).map_err(AppError::internal)?,
        tail_key: tail_key.clone(),
        tail_size,
        hash_state: hash.save(),
    };
    if !state
        .meta
        .save_tus_progress(&row.id, lease, &progress)
        .await?
    {
        if let Some(key) = tail_key {
            discard(state, &key).await;
        }
        return Err(AppError::Tus(TusError::Locked));
    }
    if let Some(old) = &committed.tail_key {
        discard(state, old).await;
    }
    Ok(())
}

/// The last byte is in: completes the object and commits the file.
async fn complete(
    state: &AppState,
    principal: &Principal,
    row: &TusUpload,
    spec: Spec,
    lease: &str,
    committed: Committed,
    hash: ResumableSha256,
) -> AppResult<Status> {
    // On failure the parts stay; a retried last PATCH (same offset) tries again.
    let (parts, old_tail) = (committed.parts, committed.tail_key);
    state
        .blobs
        .complete_resumable(&row.blob_key, row.multipart_id.as_deref(), parts)
        .await?;
    let blob = StagedBlob::assembled(
        state,
        row.blob_key.clone(),
        row.upload_length as u64,
        hash.finish_hex(),
    );
    let file = NewFile {
        account: row.account_id.clone(),
        ..spec.file
    };
    let committed = ingest::commit(state, principal, file, blob).await;
    if let Some(old) = &old_tail {
        discard(state, old).await;
    }
    let file = match committed {
        Ok(file) => file,
        Err(e) => {
            // The commit deleted the object: the upload cannot go on.
            state.meta.delete_tus(&row.id).await?;
            return Err(e);
        }
    };
    state.meta.finish_tus(&row.id, lease, &file.path).await?;
    let mut status = Status::of(row);
    status.offset = status.length;
    status.file_path = Some(file.path);
    Ok(status)
}

/// A 0-byte upload is complete at creation.
pub(super) async fn complete_empty(
    state: &AppState,
    principal: &Principal,
    row: TusUpload,
    spec: Spec,
) -> AppResult<Status> {
    let lease = lock(state, &row).await?;
    let result = complete(
        state,
        principal,
        &row,
        spec,
        &lease,
        Committed::of(&row)?,
        ResumableSha256::default(),
    )
    .await;
    if result.is_err() {
        let _ = state.meta.unlock_tus(&row.id, &lease).await;
    }
    result
}
