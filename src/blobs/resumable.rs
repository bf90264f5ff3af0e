//! Resumable writes for tus (SPEC §5.6): bytes go to the store as they arrive
//! and the final object is produced without copying them again.
//!
//! - Stores with a native multipart upload (S3, GCS, Azure, memory): each
//!   PATCH's bytes are cut into parts of [`part_size`] (≥ 5 MiB) and put as
//!   the store's parts; a shorter remainder is handed back to the caller (who
//!   keeps it as a small object until the next PATCH or the end);
//!   completion is the store's own `CompleteMultipartUpload`.
//! - The local file store: a true append into the final object's file, after
//!   truncating it to the committed offset, so bytes a crashed PATCH wrote
//!   past that offset are simply overwritten by the next one. A file found
//!   shorter than the committed offset is refused rather than zero-filled.
//!
//! Nothing here knows about the database: which parts and which offset count is
//! the caller's record (the `tus_uploads` row). During a long PATCH the caller
//! records checkpoints (issue #33): [`PartWriter::checkpoint_due`] says when
//! what was written so far can be made durable cheaply (native: a part was
//! just put and nothing is buffered; append: [`CHECKPOINT_BYTES`] or
//! [`CHECKPOINT_EVERY`] since the last one), [`PartWriter::make_durable`]
//! makes it so (append: flush and `fdatasync`) and hands back the parts put
//! since the last call.

use super::Blobs;
use crate::error::{AppError, AppResult};
use bytes::{Bytes, BytesMut};
use object_store::local::LocalFileSystem;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// The smallest part S3 accepts (but the last).
pub const MIN_PART: u64 = 5 * 1024 * 1024;
/// S3's (and GCS's XML API's) most parts per upload.
const MAX_PARTS: u64 = 10_000;
/// Buffered between the request and the file on the append path.
const APPEND_BUFFER: usize = 1024 * 1024;
/// Append path: a checkpoint after this many bytes since the last one…
pub const CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;
/// …or after this long, if any byte came (a slow client's bytes count too).
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// How a store takes resumable writes.
#[derive(Clone)]
pub enum Resumable {
    Native(Arc<dyn MultipartStore>),
    Append(Arc<LocalFileSystem>),
    /// Any other store object_store opens (e.g. plain HTTP): no tus.
    Unsupported,
}

/// The part size for an upload of `length` bytes: 5 MiB, or more when 10 000
/// parts would not hold it. Every part but the last has exactly this size.
pub fn part_size(length: u64) -> u64 {
    MIN_PART.max(length.div_ceil(MAX_PARTS))
}

/// Opens the object store named by `url` with its resumable-write flavour.
/// What a storage URL opens: the store, how tus writes into it, and for S3
/// the concrete store (which presigns direct part uploads).
pub(super) type Opened = (
    Arc<dyn ObjectStore>,
    Resumable,
    Option<Arc<object_store::aws::AmazonS3>>,
);

pub(super) fn open(url: &str) -> Result<Opened, String> {
    let err = |e: object_store::Error| format!("STOWAGE_STORAGE_URL {url}: {e}");
    if let Some(dir) = url.strip_prefix("file://") {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
        let local = Arc::new(LocalFileSystem::new_with_prefix(dir).map_err(err)?);
        return Ok((local.clone(), Resumable::Append(local), None));
    }
    if url.starts_with("memory://") {
        let mem = Arc::new(object_store::memory::InMemory::new());
        return Ok((mem.clone(), Resumable::Native(mem), None));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("STOWAGE_STORAGE_URL: {e}"))?;
    let opts: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let mut base = parsed.clone();
    base.set_query(None);
    let bad_opt = |k: &str, e: object_store::Error| format!("STOWAGE_STORAGE_URL option {k}: {e}");
    macro_rules! build {
        ($builder:expr) => {{
            let mut b = $builder.with_url(base.as_str());
            for (k, v) in opts {
                b = b.with_config(k.parse().map_err(|e| bad_opt(&k, e))?, v);
            }
            Arc::new(b.build().map_err(err)?)
        }};
    }
    macro_rules! native {
        ($store:expr) => {{
            let store = $store;
            (
                store.clone() as Arc<dyn ObjectStore>,
                Resumable::Native(store),
            )
        }};
    }
    match parsed.scheme() {
        "s3" | "s3a" => {
            let s3 = build!(object_store::aws::AmazonS3Builder::from_env());
            let (store, resumable) = native!(s3.clone());
            Ok((store, resumable, Some(s3)))
        }
        "gs" => {
            let (store, resumable) = native!(build!(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
            ));
            Ok((store, resumable, None))
        }
        "az" | "adl" | "azure" | "abfs" | "abfss" => {
            let (store, resumable) = native!(build!(
                object_store::azure::MicrosoftAzureBuilder::from_env()
            ));
            Ok((store, resumable, None))
        }
        _ => {
            let (store, _) = object_store::parse_url_opts(&base, opts)
                .map_err(|e| format!("STOWAGE_STORAGE_URL: {e}"))?;
            Ok((Arc::from(store), Resumable::Unsupported, None))
        }
    }
}

pub struct ResumeFrom<'a> {
    pub key: &'a str,
    pub multipart_id: Option<&'a str>,
    /// Committed bytes (the tus offset).
    pub offset: u64,
    pub length: u64,
    /// Parts already stored (native).
    pub parts_done: usize,
    /// The committed tail's object, whose bytes come before the new ones.
    pub tail_key: Option<&'a str>,
}

/// One PATCH's writer. Nothing it writes counts until the caller records it.
pub struct PartWriter {
    inner: Inner,
}

enum Inner {
    Native {
        store: Arc<dyn MultipartStore>,
        path: ObjectPath,
        id: String,
        part_size: usize,
        next_idx: usize,
        buf: BytesMut,
        parts: Vec<String>,
    },
    Append {
        file: tokio::io::BufWriter<tokio::fs::File>,
        /// The durable offset this PATCH appends at (moved by checkpoints).
        offset: u64,
        /// Bytes written past `offset`.
        appended: u64,
        /// When `offset` was last made durable.
        synced_at: std::time::Instant,
    },
}

/// What a finished PATCH wrote: parts to add to the record, and (native, not
/// last) the bytes after them, to keep as the new tail.
pub struct Written {
    pub new_parts: Vec<String>,
    pub tail: Bytes,
}

impl Blobs {
    /// Starts the resumable object `key`: the store's multipart id (native), or
    /// an empty file (append).
    pub async fn begin_resumable(&self, key: &str) -> AppResult<Option<String>> {
        match &self.resumable {
            Resumable::Unsupported => Err(unsupported()),
            Resumable::Native(store) => Ok(Some(store.create_multipart(&key.into()).await?)),
            Resumable::Append(local) => {
                let path = local.path_to_filesystem(&key.into())?;
                if let Some(dir) = path.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(store_io)?;
                }
                tokio::fs::File::create(&path).await.map_err(store_io)?;
                Ok(None)
            }
        }
    }

    /// A writer continuing the object at `from.offset`.
    pub async fn resume(&self, from: ResumeFrom<'_>) -> AppResult<PartWriter> {
        let inner = match &self.resumable {
            Resumable::Unsupported => return Err(unsupported()),
            Resumable::Native(store) => {
                let part_size = part_size(from.length) as usize;
                let mut buf = BytesMut::with_capacity(part_size);
                if let Some(tail) = from.tail_key {
                    buf.extend_from_slice(&self.get_bytes(tail).await?);
                }
                Inner::Native {
                    store: store.clone(),
                    path: from.key.into(),
                    id: from.multipart_id.unwrap_or_default().to_string(),
                    part_size,
                    next_idx: from.parts_done,
                    buf,
                    parts: Vec::new(),
                }
            }
            Resumable::Append(local) => {
                let path = local.path_to_filesystem(&from.key.into())?;
                let file = super::parts::open_at(&path, from.offset).await?;
                let len = file.metadata().await.map_err(store_io)?.len();
                if len < from.offset {
                    return Err(AppError::Unavailable {
                        cause: format!(
                            "upload object {} has {len} bytes, fewer than its offset {}",
                            path.display(),
                            from.offset
                        ),
                    });
                }
                // Bytes a cut or refused PATCH wrote past the offset go.
                file.set_len(from.offset).await.map_err(store_io)?;
                Inner::Append {
                    file: tokio::io::BufWriter::with_capacity(APPEND_BUFFER, file),
                    offset: from.offset,
                    appended: 0,
                    synced_at: std::time::Instant::now(),
                }
            }
        };
        Ok(PartWriter { inner })
    }

    /// Makes the object whole: the store's completion (native) or nothing more
    /// (append: the file is already the object).
    pub async fn complete_resumable(
        &self,
        key: &str,
        multipart_id: Option<&str>,
        parts: Vec<String>,
    ) -> AppResult<()> {
        if let (Resumable::Native(store), Some(id)) = (&self.resumable, multipart_id) {
            if parts.is_empty() {
                // A 0-byte object: no store takes a multipart upload of no
                // part (and S3 servers refuse an empty part), so it is put
                // whole and the store-side upload dropped.
                self.put_bytes(key, Bytes::new()).await?;
                return match store.abort_multipart(&key.into(), &id.to_string()).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                };
            }
            let parts = parts
                .into_iter()
                .map(|content_id| PartId { content_id })
                .collect();
            store
                .complete_multipart(&key.into(), &id.to_string(), parts)
                .await?;
        }
        Ok(())
    }

    /// Drops an unfinished resumable object and every part stored for it.
    pub async fn abort_resumable(&self, key: &str, multipart_id: Option<&str>) -> AppResult<()> {
        if let (Resumable::Native(store), Some(id)) = (&self.resumable, multipart_id) {
            match store.abort_multipart(&key.into(), &id.to_string()).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.delete(key).await
    }
}

impl PartWriter {
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        match &mut self.inner {
            Inner::Append {
                file,
                offset,
                appended,
                ..
            } => match file.write_all(chunk).await {
                Ok(()) => {
                    *appended += chunk.len() as u64;
                    Ok(())
                }
                Err(e) => Err(cut_back(file.get_ref(), *offset, e).await),
            },
            Inner::Native { .. } => {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let (room, full) = self.room();
                    let take = room.min(rest.len());
                    self.buffer().extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if full || take == room {
                        self.flush_part().await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Ends this PATCH. `last`: the upload is complete, so the remainder is the
    /// final part; otherwise it is returned as the tail.
    pub async fn finish(mut self, last: bool) -> AppResult<Written> {
        match &mut self.inner {
            Inner::Append { file, offset, .. } => {
                if let Err(e) = file.flush().await {
                    return Err(cut_back(file.get_ref(), *offset, e).await);
                }
                Ok(Written {
                    new_parts: Vec::new(),
                    tail: Bytes::new(),
                })
            }
            Inner::Native { buf, .. } => {
                // An empty upload has no part at all (an empty `UploadPart`
                // is refused by real S3 servers): see `complete_resumable`.
                if last && !buf.is_empty() {
                    self.flush_part().await?;
                }
                let Inner::Native { buf, parts, .. } = self.inner else {
                    unreachable!("native writer")
                };
                Ok(Written {
                    new_parts: parts,
                    tail: buf.freeze(),
                })
            }
        }
    }

    /// How many bytes can be written before the next point where a
    /// checkpoint may be taken (native: the current part is full); `None`:
    /// any point will do (append).
    pub fn to_boundary(&self) -> Option<usize> {
        match &self.inner {
            Inner::Native { part_size, buf, .. } => Some(part_size - buf.len()),
            Inner::Append { .. } => None,
        }
    }

    /// Whether a checkpoint is due now (see the module's doc).
    pub fn checkpoint_due(&self) -> bool {
        match &self.inner {
            Inner::Native { buf, parts, .. } => buf.is_empty() && !parts.is_empty(),
            Inner::Append {
                appended,
                synced_at,
                ..
            } => {
                *appended >= CHECKPOINT_BYTES
                    || (*appended > 0 && synced_at.elapsed() >= CHECKPOINT_EVERY)
            }
        }
    }

    /// Makes what was written so far durable, except a native writer's
    /// buffered bytes (not yet a part); returns the parts put since the
    /// last call, in order.
    pub async fn make_durable(&mut self) -> AppResult<Vec<String>> {
        match &mut self.inner {
            Inner::Native { parts, .. } => Ok(std::mem::take(parts)),
            Inner::Append {
                file,
                offset,
                appended,
                synced_at,
            } => {
                let synced = match file.flush().await {
                    Ok(()) => file.get_ref().sync_data().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = synced {
                    return Err(cut_back(file.get_ref(), *offset, e).await);
                }
                *offset += std::mem::take(appended);
                *synced_at = std::time::Instant::now();
                Ok(Vec::new())
            }
        }
    }

    fn room(&mut self) -> (usize, bool) {
        match &self.inner {
            Inner::Native { part_size, buf, .. } => {
                let room = part_size.saturating_sub(buf.len());
                (room, room == 0)
            }
            Inner::Append { .. } => (usize::MAX, false),
        }
    }

    fn buffer(&mut self) -> &mut BytesMut {
        match &mut self.inner {
            Inner::Native { buf, .. } => buf,
            Inner::Append { .. } => unreachable!("append writers do not buffer parts"),
        }
    }

    async fn flush_part(&mut self) -> AppResult<()> {
        if let Inner::Native {
            store,
            path,
            id,
            next_idx,
            buf,
            parts,
            part_size,
        } = &mut self.inner
        {
            let data = std::mem::replace(buf, BytesMut::with_capacity(*part_size)).freeze();
            let part = store.put_part(path, id, *next_idx, data.into()).await?;
            parts.push(part.content_id);
            *next_idx += 1;
        }
        Ok(())
    }
}

fn unsupported() -> AppError {
    AppError::Unavailable {
        cause: "this object store takes no resumable writes (tus)".into(),
    }
}

/// A write failed (the disk is full, say): what this PATCH appended goes at
/// once, back to the committed offset, and the failure is answered.
async fn cut_back(file: &tokio::fs::File, offset: u64, e: std::io::Error) -> AppError {
    if let Err(err) = file.set_len(offset).await {
        tracing::warn!(error = %err, offset, "a failed tus append not cut back");
    }
    store_io(e)
}

fn store_io(e: std::io::Error) -> AppError {
    AppError::from_store("writing a resumable object", &e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{MultipartId, PutPayload, PutResult};

    /// A store that answers like a real S3 server (Garage, AWS): an empty
    /// `UploadPart` is refused (400 "Empty body"), and so is a completion
    /// that names no part.
    #[derive(Debug)]
    struct StrictS3(Arc<object_store::memory::InMemory>);

    fn refused(what: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: format!("Server returned non-2xx status code: 400 Bad Request: {what}").into(),
        }
    }

    #[async_trait::async_trait]
    impl MultipartStore for StrictS3 {
        async fn create_multipart(&self, path: &ObjectPath) -> object_store::Result<MultipartId> {
            self.0.create_multipart(path).await
        }
        async fn put_part(
            &self,
            path: &ObjectPath,
            id: &MultipartId,
            idx: usize,
            data: PutPayload,
        ) -> object_store::Result<PartId> {
            if data.content_length() == 0 {
                return Err(refused("<Code>InvalidRequest</Code> Empty body"));
            }
            self.0.put_part(path, id, idx, data).await
        }
        async fn complete_multipart(
            &self,
            path: &ObjectPath,
            id: &MultipartId,
            parts: Vec<PartId>,
        ) -> object_store::Result<PutResult> {
            if parts.is_empty() {
                return Err(refused("<Code>MalformedXML</Code>"));
            }
            self.0.complete_multipart(path, id, parts).await
        }
        async fn abort_multipart(
            &self,
            path: &ObjectPath,
            id: &MultipartId,
        ) -> object_store::Result<()> {
            self.0.abort_multipart(path, id).await
        }
    }

    fn strict_blobs() -> Blobs {
        let mem = Arc::new(object_store::memory::InMemory::new());
        let strict = Arc::new(StrictS3(mem.clone()));
        Blobs {
            store: mem,
            resumable: Resumable::Native(strict.clone()),
            multipart: Some(strict),
            local_root: None,
            s3: None,
            url: "strict-s3://".into(),
        }
    }

    #[tokio::test]
    async fn an_empty_upload_sends_no_empty_part() {
        let blobs = strict_blobs();
        for (key, patched) in [("a/zero", false), ("a/zero-patched", true)] {
            let id = blobs.begin_resumable(key).await.unwrap();
            let mut parts = Vec::new();
            if patched {
                // A PATCH of no bytes that ends the upload.
                let from = ResumeFrom {
                    key,
                    multipart_id: id.as_deref(),
                    offset: 0,
                    length: 0,
                    parts_done: 0,
                    tail_key: None,
                };
                let written = blobs.resume(from).await.unwrap().finish(true).await;
                parts = written.unwrap().new_parts;
            }
            blobs
                .complete_resumable(key, id.as_deref(), parts)
                .await
                .unwrap();
            assert_eq!(blobs.get_bytes(key).await.unwrap().len(), 0);
        }
    }

    #[tokio::test]
    async fn a_refused_part_is_a_bug_not_an_outage() {
        let blobs = strict_blobs();
        let id = blobs.begin_resumable("a/k").await.unwrap();
        let store = match &blobs.resumable {
            Resumable::Native(s) => s.clone(),
            _ => unreachable!(),
        };
        let id = id.unwrap_or_default();
        let err = store
            .put_part(&"a/k".into(), &id, 0, PutPayload::default())
            .await
            .unwrap_err();
        let e = AppError::from(err);
        assert_eq!((e.status().as_u16(), e.retry_after()), (500, None));
    }
}
