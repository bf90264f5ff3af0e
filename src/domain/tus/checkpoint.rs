//! Checkpoints of a long PATCH (issue #33): while bytes flow, what the store
//! holds durably is recorded in the upload's row (offset, parts, hash state)
//! without releasing the lease, so a node killed mid-PATCH loses at most the
//! bytes since the last checkpoint, not the whole PATCH: HEAD then reports
//! the checkpoint and the client resumes from there.
//!
//! When: on stores with native multipart uploads, each time a part of
//! `part_size` has been put (the tail buffered before it is in that part);
//! on the local file store, every `CHECKPOINT_BYTES` or `CHECKPOINT_EVERY`
//! after an `fdatasync` of the file. Never for a PATCH that carries an
//! `Upload-Checksum` or a content digest (its bytes count only once the whole
//! chunk checks out), and never at the upload's last byte (that PATCH
//! commits the file). The row's offset never exceeds the durable bytes: it is
//! written only after the store said they are there.

use super::ResumableSha256;
use crate::blobs::resumable::PartWriter;
use crate::domain::ingest::discard;
use crate::error::{AppError, AppResult, TusError};
use crate::meta::{TusProgress, TusUpload};
use crate::state::AppState;

/// What the row says right now: the offset, the store's parts, the tail
/// object (native, before the PATCH's first checkpoint).
pub(super) struct Committed {
    pub offset: u64,
    pub parts: Vec<String>,
    pub tail_key: Option<String>,
}

impl Committed {
    pub fn of(row: &TusUpload) -> AppResult<Committed> {
        Ok(Committed {
            offset: row.upload_offset as u64,
            parts: serde_json::from_str(&row.parts).map_err(AppError::internal)?,
            tail_key: row.tail_key.clone(),
        })
    }
}

/// One PATCH's checkpointing: whether it may take checkpoints at all.
pub(super) struct Checkpoints<'a> {
    pub state: &'a AppState,
    pub row: &'a TusUpload,
    pub lease: &'a str,
    pub enabled: bool,
    pub committed: Committed,
}

impl Checkpoints<'_> {
    /// After `written` bytes of this PATCH (all hashed into `hash`): takes a
    /// checkpoint if one is due.
    pub async fn maybe(
        &mut self,
        writer: &mut PartWriter,
        written: u64,
        hash: &ResumableSha256,
    ) -> AppResult<()> {
        let offset = self.row.upload_offset as u64 + written;
        if !self.enabled || offset >= self.row.upload_length as u64 || !writer.checkpoint_due() {
            return Ok(());
        }
        let new_parts = writer.make_durable().await?;
        let mut parts = self.committed.parts.clone();
        parts.extend(new_parts);
        let progress = TusProgress {
            offset: offset as i64,
            parts: serde_json::to_string(&parts).map_err(AppError::internal)?,
            tail_key: None,
            tail_size: 0,
            hash_state: hash.save(),
        };
        let meta = &self.state.meta;
        if !meta
            .checkpoint_tus(&self.row.id, self.lease, &progress)
            .await?
        {
            return Err(AppError::Tus(TusError::Locked));
        }
        self.committed.offset = offset;
        self.committed.parts = parts;
        // The tail is inside the part just put: its object is no longer needed.
        if let Some(old) = self.committed.tail_key.take() {
            discard(self.state, &old).await;
        }
        metrics::counter!(crate::metrics::TUS_CHECKPOINTS).increment(1);
        Ok(())
    }
}
