//! A streaming put through the store's own multipart upload, journaled: the
//! upload id is recorded before the first part goes out, so a crash at any
//! point leaves either nothing or an id the sweeper aborts.

use super::digest::{Digester, Expected};
use super::meter::Meter;
use super::{Journal, PutError, Stored, WRITE_BUFFER};
use bytes::{Bytes, BytesMut};
use futures::Stream;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{MultipartId, ObjectStore};
use std::sync::Arc;

pub(super) struct TrackedPut<'a> {
    store: Arc<dyn ObjectStore>,
    mp: Arc<dyn MultipartStore>,
    key: &'a str,
    path: ObjectPath,
    journal: &'a dyn Journal,
    /// The store-side upload, once the body outgrew one part.
    upload: Option<MultipartId>,
    parts: Vec<PartId>,
}

impl<'a> TrackedPut<'a> {
    pub(super) fn new(
        store: Arc<dyn ObjectStore>,
        mp: Arc<dyn MultipartStore>,
        key: &'a str,
        journal: &'a dyn Journal,
    ) -> TrackedPut<'a> {
        TrackedPut {
            store,
            mp,
            key,
            path: ObjectPath::from(key),
            journal,
            upload: None,
            parts: Vec::new(),
        }
    }

    /// Streams `body` in: one plain put when it fits in one part, else a
    /// multipart upload of [`WRITE_BUFFER`]-sized parts. Any failure aborts
    /// the store-side upload before returning.
    pub(super) async fn run<S, E>(
        mut self,
        body: S,
        limit: u64,
        expected: Option<Expected>,
    ) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        match self.stream(body, limit, expected).await {
            Ok(stored) => Ok(stored),
            Err(e) => {
                if let Some(id) = self.upload.take() {
                    let _ = self.mp.abort_multipart(&self.path, &id).await;
                    self.journal.finished(self.key).await;
                }
                Err(e)
            }
        }
    }

    async fn stream<S, E>(
        &mut self,
        body: S,
        limit: u64,
        expected: Option<Expected>,
    ) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut meter = Meter::new(body, limit, Some(Digester::new(expected)));
        let mut buf = BytesMut::new();
        while let Some(chunk) = meter.next().await {
            buf.extend_from_slice(&chunk?);
            // A body of exactly one part still goes as one plain put.
            while buf.len() > WRITE_BUFFER {
                let part = buf.split_to(WRITE_BUFFER).freeze();
                self.put_part(part).await?;
            }
        }
        // A digest mismatch aborts before the object is ever completed.
        let size = meter.received();
        let computed = PutError::verified(meter)?;
        let rest = buf.freeze();
        match self.upload.clone() {
            None => {
                self.store
                    .put(&self.path, rest.into())
                    .await
                    .map_err(PutError::Store)?;
            }
            Some(id) => {
                if !rest.is_empty() {
                    self.put_part(rest).await?;
                }
                let parts = std::mem::take(&mut self.parts);
                self.mp
                    .complete_multipart(&self.path, &id, parts)
                    .await
                    .map_err(PutError::Store)?;
                self.upload = None;
                self.journal.finished(self.key).await;
            }
        }
        Ok(Stored {
            size,
            sha256: hex::encode(computed.sha256),
        })
    }

    /// Sends one part, starting (and journaling) the upload first if needed.
    async fn put_part(&mut self, part: Bytes) -> Result<(), PutError> {
        let id = match &self.upload {
            Some(id) => id.clone(),
            None => {
                let id = self
                    .mp
                    .create_multipart(&self.path)
                    .await
                    .map_err(PutError::Store)?;
                self.upload = Some(id.clone());
                self.journal
                    .started(self.key, &id)
                    .await
                    .map_err(|e| PutError::Journal(e.to_string()))?;
                id
            }
        };
        let idx = self.parts.len();
        let part_id = self
            .mp
            .put_part(&self.path, &id, idx, part.into())
            .await
            .map_err(PutError::Store)?;
        self.parts.push(part_id);
        Ok(())
    }
}
