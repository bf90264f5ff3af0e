//! Multipart-upload parts written straight into the final object (SPEC §5.3,
//! issue #16: "completion that copies nothing"):
//!
//! - Stores with a native multipart upload (S3, GCS, Azure, memory): each
//!   part's bytes become the store's part of the same index (`UploadPart`);
//!   completion is the store's `CompleteMultipartUpload`.
//! - The local file store: the final object's file is created at the
//!   session's start and each part is written at its own offset, so after the
//!   last part the file *is* the object and completion moves no byte.
//!
//! The caller (`domain/multipart.rs`) decides what counts (the part rows) and
//! keeps writers of one session from overlapping its completion.

use super::resumable::Resumable;
use super::Blobs;
use crate::error::{AppError, AppResult};
use bytes::BytesMut;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use std::sync::Arc;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Buffered between the request and the file.
const FILE_BUFFER: usize = 256 * 1024;

/// One part attempt's writer. Nothing it writes counts until the caller
/// records the part.
pub struct PartSink {
    inner: Sink,
}

enum Sink {
    Native {
        store: Arc<dyn MultipartStore>,
        path: ObjectPath,
        id: String,
        idx: usize,
        buf: BytesMut,
    },
    /// A first attempt streaming into bytes `range` of the file.
    File {
        file: tokio::io::BufWriter<tokio::fs::File>,
        range: (u64, u64),
    },
    FileBuffered {
        path: std::path::PathBuf,
        offset: u64,
        buf: BytesMut,
    },
}

/// The object's file, open for writing at `offset` (multipart parts and tus
/// appends). Never created here: an upload that expired (its file swept)
/// takes no more bytes.
pub(super) async fn open_at(path: &std::path::Path, offset: u64) -> AppResult<tokio::fs::File> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .await
        .map_err(|e| AppError::Unavailable {
            cause: format!("upload object {}: {e}", path.display()),
        })?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(store_io)?;
    Ok(file)
}

impl Blobs {
    /// Whether the parts of an upload of `part_count` parts go straight into
    /// the final object here. A one-part upload (≤ 8 MiB) is copied once
    /// instead, on every store alike, so its etag stays the file's SHA-256
    /// (and S3 is never asked for a multipart upload of one empty part).
    pub fn parts_in_place(&self, part_count: u64) -> bool {
        part_count >= 2 && !matches!(self.resumable, Resumable::Unsupported)
    }

    /// A writer for part `idx` (bytes `offset..offset + len`) of the object
    /// `key` begun with [`Blobs::begin_resumable`]. On the file store,
    /// `buffered` holds the bytes in memory until [`PartSink::finish`] (for a
    /// retry of a part already stored: a failed retry must not touch it);
    /// otherwise they stream into the file.
    pub async fn open_part(
        &self,
        key: &str,
        multipart_id: Option<&str>,
        (idx, offset, len): (u64, u64, u64),
        buffered: bool,
    ) -> AppResult<PartSink> {
        let inner = match (&self.resumable, multipart_id) {
            (Resumable::Native(store), Some(id)) => Sink::Native {
                store: store.clone(),
                path: key.into(),
                id: id.to_string(),
                idx: idx as usize,
                buf: BytesMut::with_capacity(len as usize),
            },
            (Resumable::Append(local), _) => {
                let path = local.path_to_filesystem(&key.into())?;
                if buffered {
                    Sink::FileBuffered {
                        path,
                        offset,
                        buf: BytesMut::with_capacity(len as usize),
                    }
                } else {
                    let file = open_at(&path, offset).await?;
                    Sink::File {
                        file: tokio::io::BufWriter::with_capacity(FILE_BUFFER, file),
                        range: (offset, len),
                    }
                }
            }
            _ => {
                return Err(AppError::internal(
                    "multipart part in place on a store that takes none",
                ))
            }
        };
        Ok(PartSink { inner })
    }
}

impl PartSink {
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        match &mut self.inner {
            Sink::Native { buf, .. } | Sink::FileBuffered { buf, .. } => {
                buf.extend_from_slice(chunk);
                Ok(())
            }
            Sink::File { file, range } => match file.write_all(chunk).await {
                Ok(()) => Ok(()),
                Err(e) => Err(free_range(file.get_ref(), *range, e)),
            },
        }
    }

    /// Stores the part: the store's part id (native), or nothing (file).
    pub async fn finish(self) -> AppResult<Option<String>> {
        match self.inner {
            Sink::Native {
                store,
                path,
                id,
                idx,
                buf,
            } => {
                let part = store.put_part(&path, &id, idx, buf.freeze().into()).await?;
                Ok(Some(part.content_id))
            }
            Sink::File { mut file, range } => match file.flush().await {
                Ok(()) => Ok(None),
                Err(e) => Err(free_range(file.get_ref(), range, e)),
            },
            Sink::FileBuffered { path, offset, buf } => {
                let mut file = open_at(&path, offset).await?;
                file.write_all(&buf).await.map_err(store_io)?;
                file.flush().await.map_err(store_io)?;
                Ok(None)
            }
        }
    }
}

/// A first attempt's write failed (the disk is full, say): the blocks it
/// already took in the part's range are given back at once (the range holds
/// nothing recorded: a stored part is only ever rewritten buffered), and the
/// failure is answered.
fn free_range(file: &tokio::fs::File, (offset, len): (u64, u64), e: std::io::Error) -> AppError {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{fallocate, FallocateFlags};
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        if let Err(err) = fallocate(file, flags, offset, len) {
            tracing::warn!(error = %err, offset, len, "a failed part's bytes not freed");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
    store_io(e)
}

fn store_io(e: std::io::Error) -> AppError {
    AppError::from_store("writing a multipart part", &e)
}
