//! Bytes, through object_store: streaming put with SHA-256 and a size limit,
//! ranged streaming get (big reads for local files), copy and delete.

pub mod multipart;

use crate::error::{AppError, AppResult};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Read size for local files: large reads keep big downloads near disk speed.
const READ_CHUNK: usize = 256 * 1024;
/// Buffered before the first part goes out; also the multipart part size.
const WRITE_BUFFER: usize = 8 * 1024 * 1024;

pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<Bytes>>;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// How tus writes resumably into this store (see [`multipart`]).
    resumable: multipart::Resumable,
    url: String,
}

/// What a finished put stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub size: u64,
    pub sha256: String,
}

/// Why a streaming put failed. The partial object is always aborted first.
#[derive(Debug)]
pub enum PutError {
    /// The body passed the byte limit.
    TooLarge { limit: u64 },
    /// The client's body stream failed (disconnect, truncated body).
    Body(String),
    /// The object store failed.
    Store(object_store::Error),
}

impl From<PutError> for AppError {
    fn from(e: PutError) -> AppError {
        match e {
            PutError::TooLarge { limit } => AppError::FileTooLarge {
                limit,
                declared: None,
            },
            PutError::Body(msg) => AppError::UploadIncomplete {
                message: format!("The request body ended early or failed: {msg}."),
            },
            PutError::Store(err) => AppError::Unavailable {
                cause: err.to_string(),
            },
        }
    }
}

impl Blobs {
    /// `file://<dir>` (relative or absolute; created if missing), `memory://`, or any
    /// URL object_store parses (`s3://bucket`, `gs://…`, `az://…`). Query parameters
    /// are passed to the store's builder as options (`?endpoint=…&region=…&allow_http=true`);
    /// for S3 the usual `AWS_*` environment variables are read too.
    pub fn from_url(url: &str) -> Result<Blobs, String> {
        let (store, resumable) = multipart::open(url)?;
        Ok(Blobs {
            store,
            resumable,
            url: redact(url),
        })
    }

    /// The storage URL with credentials removed, for logs.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// Streams `body` into `key`, hashing and counting; fails (and aborts the
    /// partial object) once more than `limit` bytes arrive.
    pub async fn put_stream<S, E>(&self, key: &str, body: S, limit: u64) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut writer = BufWriter::with_capacity(self.store.clone(), key.into(), WRITE_BUFFER)
            .with_max_concurrency(2);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut body = std::pin::pin!(body);
        let failure = loop {
            match body.next().await {
                None => break None,
                Some(Err(e)) => break Some(PutError::Body(e.to_string())),
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    if size > limit {
                        break Some(PutError::TooLarge { limit });
                    }
                    hasher.update(&chunk);
                    if let Err(e) = writer.write_all(&chunk).await {
                        break Some(PutError::Store(io_to_store(e)));
                    }
                }
            }
        };
        if let Some(err) = failure {
            let _ = writer.abort().await;
            return Err(err);
        }
        if let Err(e) = writer.shutdown().await {
            let _ = writer.abort().await;
            return Err(PutError::Store(io_to_store(e)));
        }
        Ok(Stored {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Stores a small object whole.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> AppResult<()> {
        self.store.put(&key.into(), bytes.into()).await?;
        Ok(())
    }

    /// The bytes of `range` of `key` as a stream.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> AppResult<ByteStream> {
        let len = range.end - range.start;
        if len == 0 {
            return Ok(futures::stream::empty().boxed());
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&ObjectPath::from(key), opts)
            .await
            .map_err(store_read_error)?;
        match result.payload {
            GetResultPayload::File(file, _) => {
                let mut file = tokio::fs::File::from_std(file);
                file.seek(std::io::SeekFrom::Start(range.start))
                    .await
                    .map_err(AppError::internal)?;
                let reader = tokio::io::AsyncReadExt::take(file, len);
                Ok(tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK).boxed())
            }
            GetResultPayload::Stream(s) => Ok(s.map_err(std::io::Error::other).boxed()),
        }
    }

    /// The whole object in memory (for small, cacheable files).
    pub async fn get_bytes(&self, key: &str) -> AppResult<Bytes> {
        let result = self
            .store
            .get(&ObjectPath::from(key))
            .await
            .map_err(store_read_error)?;
        Ok(result.bytes().await?)
    }

    pub async fn copy(&self, from: &str, to: &str) -> AppResult<()> {
        self.store
            .copy(&ObjectPath::from(from), &ObjectPath::from(to))
            .await
            .map_err(store_read_error)?;
        Ok(())
    }

    /// Deletes `key`; a missing object counts as deleted.
    pub async fn delete(&self, key: &str) -> AppResult<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, key: &str) -> AppResult<bool> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object key under `prefix` (for the sweeper's audits and tests).
    pub async fn list(&self, prefix: &str) -> AppResult<Vec<String>> {
        let prefix = ObjectPath::from(prefix);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas.into_iter().map(|m| m.location.to_string()).collect())
    }

    /// Checks the store answers (for `/readyz`).
    pub async fn ping(&self) -> AppResult<()> {
        self.exists(".stowage-ready").await.map(|_| ())
    }
}

/// A file row pointing at a missing object is an internal inconsistency, except
/// in the window where a concurrent delete removed it: the caller maps it to 404.
fn store_read_error(e: object_store::Error) -> AppError {
    AppError::from(e)
}

fn io_to_store(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "stowage",
        source: Box::new(e),
    }
}

/// Drops userinfo and query (which may carry credentials) from a storage URL.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.scheme() != "file" => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}
