//! Multipart uploads whose parts go straight into the final object, so the
//! confirmation that completes the upload copies nothing (issue #16): on
//! S3/GCS/Azure the session is the store's own multipart upload, on the file
//! store each part is written at its offset in the final file
//! (`blobs/parts.rs`). Used when the store takes it (`Blobs::parts_in_place`:
//! the file store always, native stores from two parts on); other uploads
//! keep one object per part attempt and are assembled by copying (`mod.rs`).
//!
//! - **Begin**: the final key is registered for garbage collection (due when
//!   the session expires) before the store hears of it, and the store's
//!   multipart id is journaled (`gc_upload_started`), so an abandoned or
//!   crashed upload is aborted and deleted by the sweeper.
//! - **Part PUT**: hashed (the part's ETag is its SHA-256, as before) and
//!   checked against its range and any `Content-Digest` while it streams.
//!   Native stores take a part whole (it is buffered, ≤ 8 MiB). On the file
//!   store the first attempt of a part streams into its range (if it fails,
//!   nothing of it is recorded); a retry of a part already stored is buffered
//!   and written only once it is whole and verified, so a failed retry never
//!   harms the stored part.
//! - **Completion**: in this process, part writers of the session hold a read
//!   lock and completion the write lock, so completion waits for writes in
//!   flight and later writers find the session no longer open; attempts of
//!   one part are serialised. The file's `etag` is a composite of the part
//!   hashes (`<sha256 of the part SHA-256s>-<parts>`); its whole-file SHA-256
//!   (for `Repr-Digest` and deduplication) comes from the background digest
//!   pass. A completion whose commit fails (e.g. 409: the path was taken
//!   meanwhile) deletes the object and the session.

use super::{part_len, part_range, PartBody, Spec};
use crate::auth::Principal;
use crate::blobs::digest::Digester;
use crate::blobs::meter::{Meter, Stop};
use crate::domain::ingest::{self, StagedBlob};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, FileRow, UploadPart, UploadSession};
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// Starts the final object of a new session: GC entry, then the store's
/// multipart upload (journaled) or the empty file.
pub(super) async fn begin(state: &AppState, s: &mut UploadSession) -> AppResult<()> {
    let key = format!("{}/{}", s.account_id, uuid::Uuid::now_v7().simple());
    state.meta.gc_register(&key, s.expires_at).await?;
    let id = state.blobs.begin_resumable(&key).await?;
    if let Some(id) = &id {
        state.meta.gc_upload_started(&key, id, now_ms()).await?;
    }
    s.blob_key = Some(key);
    s.multipart_id = id;
    Ok(())
}

/// Writes part `idx` (`expected` bytes) into the final object; returns its ETag.
pub(super) async fn put_part<S, E>(
    state: &AppState,
    s: &UploadSession,
    idx: u64,
    expected: u64,
    checks: PartBody,
    body: S,
) -> AppResult<String>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let locks = SessionLocks::of(&s.id);
    let _writing = locks.rw.read().await;
    let part = locks.part(idx);
    let _one_attempt = part.lock().await;
    let open = state.meta.get_upload(&s.account_id, &s.id).await?;
    if open.is_none_or(|c| c.status != "open") {
        return Err(super::already_complete());
    }
    let key = s.blob_key.as_deref().unwrap_or_default();
    let (start, _) = part_range(s.size as u64, idx);
    let retry = state.meta.has_part(&s.id, idx as i64).await?;
    let mut sink = state
        .blobs
        .open_part(
            key,
            s.multipart_id.as_deref(),
            (idx, start, expected),
            retry,
        )
        .await?;
    let (etag, store_part) = async {
        let mut meter = Meter::new(body, expected, Some(Digester::new(checks.digest)));
        while let Some(chunk) = meter.next().await {
            let chunk = chunk.map_err(|stop| match stop {
                Stop::TooLarge { .. } => super::part_too_large(idx, expected),
                Stop::Body(e) => AppError::UploadIncomplete {
                    message: format!("The request body ended early or failed: {e}."),
                },
            })?;
            sink.write(&chunk).await?;
        }
        let got = meter.received();
        if got != expected {
            return Err(AppError::UploadIncomplete {
                message: format!("Part {idx} had {got} bytes; its range is {expected} bytes."),
            });
        }
        let computed = meter
            .verify()?
            .ok_or_else(|| AppError::internal("part not hashed"))?;
        Ok::<_, AppError>((hex::encode(computed.sha256), sink.finish().await?))
    }
    .await?;
    let part = UploadPart {
        upload_id: s.id.clone(),
        idx: idx as i64,
        etag: etag.clone(),
        size: expected as i64,
        confirmed: false,
        blob_key: String::new(),
        store_part,
    };
    record(state, &part).await?;
    Ok(etag)
}

/// Records a part the client put straight into the store
/// (`STOWAGE_DIRECT_PARTS`), as its confirmation names it: the store checks
/// the ETag when the upload completes (a wrong one fails the completion).
pub(super) async fn record_direct_part(
    state: &AppState,
    s: &UploadSession,
    idx: u64,
    etag: &str,
) -> AppResult<()> {
    if etag.is_empty() || etag.len() > 200 {
        return Err(AppError::invalid_request(
            format!("Part {idx}'s ETag {etag:?} is not one the store returned."),
            "Send the ETag header the part's PUT to its uploadUrl answered.",
        ));
    }
    let part = UploadPart {
        upload_id: s.id.clone(),
        idx: idx as i64,
        etag: etag.to_string(),
        size: part_len(s.size as u64, idx) as i64,
        confirmed: false,
        blob_key: String::new(),
        store_part: Some(format!("\"{etag}\"")),
    };
    record(state, &part).await
}

/// Records an in-place part (no object of its own: nothing to discard when
/// it replaces an earlier attempt).
async fn record(state: &AppState, part: &UploadPart) -> AppResult<()> {
    match state.meta.record_part(part).await? {
        (true, _) => Ok(()),
        (false, _) => Err(super::already_complete()),
    }
}

/// Completes the store's object (nothing to do on the file store) and
/// commits the file. Called once the session is claimed.
pub(super) async fn complete(
    state: &AppState,
    principal: &Principal,
    s: &UploadSession,
    spec: &Spec,
    parts: &[UploadPart],
) -> AppResult<FileRow> {
    let locks = SessionLocks::of(&s.id);
    let finished = async {
        let _all = locks.rw.write().await;
        let key = s.blob_key.clone().unwrap_or_default();
        if let Some(id) = &s.multipart_id {
            let ids = parts
                .iter()
                .map(|p| p.store_part.clone())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| AppError::internal("an in-place part without its store part id"))?;
            state.blobs.complete_resumable(&key, Some(id), ids).await?;
            state.meta.gc_upload_finished(&key).await?;
            if super::direct(state) {
                // The bytes never passed through here: the store says how many.
                let stored = state.blobs.size_of(&key).await?;
                if stored != s.size as u64 {
                    // Nothing will use the object: delete it now (else the
                    // sweeper does when its GC entry comes due).
                    ingest::discard(state, &key).await;
                    return Err(AppError::UploadIncomplete {
                        message: format!(
                            "The parts hold {stored} bytes; the upload declared {}.",
                            s.size
                        ),
                    });
                }
            }
        }
        let blob = StagedBlob::assembled_unhashed(state, key, s.size as u64, composite_etag(parts));
        ingest::commit(state, principal, spec.new_file(s.account_id.clone()), blob).await
    }
    .await;
    SessionLocks::forget(&s.id);
    if finished.is_err() {
        // The object is gone with the failed commit: so is the session.
        state.meta.delete_upload(&s.id).await?;
    }
    finished
}

/// `<hex SHA-256 of the parts' SHA-256s, in order>-<number of parts>`.
fn composite_etag(parts: &[UploadPart]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(hex::decode(&p.etag).unwrap_or_else(|_| p.etag.as_bytes().to_vec()));
    }
    format!("{}-{}", hex::encode(h.finalize()), parts.len())
}

/// Per-session locks of this process (see the module docs).
#[derive(Default)]
pub(super) struct SessionLocks {
    rw: tokio::sync::RwLock<()>,
    parts: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
}

static LOCKS: LazyLock<Mutex<HashMap<String, Arc<SessionLocks>>>> = LazyLock::new(Default::default);

impl SessionLocks {
    fn of(id: &str) -> Arc<SessionLocks> {
        let mut all = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() > 1024 {
            // Sessions finished or swept on another node: nobody holds them.
            all.retain(|_, l| Arc::strong_count(l) > 1);
        }
        all.entry(id.to_string()).or_default().clone()
    }

    /// Waits for this process's part writes of session `id` to end (those
    /// that start later find it no longer open).
    pub(super) async fn quiesce(id: &str) {
        let locks = SessionLocks::of(id);
        drop(locks.rw.write().await);
    }

    pub(super) fn forget(id: &str) {
        LOCKS.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    fn part(&self, idx: u64) -> Arc<tokio::sync::Mutex<()>> {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.entry(idx).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_etag_names_parts_in_order() {
        let part = |idx, etag: &str| UploadPart {
            upload_id: "u".into(),
            idx,
            etag: etag.into(),
            size: 1,
            confirmed: true,
            blob_key: String::new(),
            store_part: None,
        };
        let a = hex::encode(Sha256::digest(b"a"));
        let b = hex::encode(Sha256::digest(b"b"));
        let ab = composite_etag(&[part(0, &a), part(1, &b)]);
        let ba = composite_etag(&[part(0, &b), part(1, &a)]);
        assert_ne!(ab, ba);
        let mut both = Sha256::digest(b"a").to_vec();
        both.extend_from_slice(&Sha256::digest(b"b"));
        assert_eq!(ab, format!("{}-2", hex::encode(Sha256::digest(&both))));
    }
}
