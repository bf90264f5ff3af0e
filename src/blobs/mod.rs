//! Bytes, through object_store: streaming put with SHA-256 and a size limit,
//! ranged streaming get (big reads for local files), copy and delete; RFC 9530
//! digest fields ([`digest`]).

pub mod digest;
pub mod meter;
pub mod parts;
pub mod resumable;
pub mod source;

use crate::error::{AppError, AppResult};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use std::ops::Range;
use std::sync::Arc;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

mod direct;
mod local;
mod multipart;

/// Read sizes for local files: large reads keep a few big downloads near disk
/// speed (256 KiB: 2.6 GB/s for one stream here, 64 KiB: 2.1 GB/s); once
/// [`BIG_READS_UP_TO`] files are streaming, new ones read 64 KiB at a time, so
/// 100 concurrent downloads hold ~20 MiB of buffers, not ~75 (issue #16).
const READ_CHUNK: usize = 256 * 1024;
const SMALL_READ_CHUNK: usize = 64 * 1024;
const BIG_READS_UP_TO: usize = 8;
/// Local files being streamed right now.
static OPEN_READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one streaming read in [`OPEN_READS`] while alive.
struct OpenRead;

impl OpenRead {
    fn start() -> (OpenRead, usize) {
        let before = OPEN_READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let chunk = if before < BIG_READS_UP_TO {
            READ_CHUNK
        } else {
            SMALL_READ_CHUNK
        };
        (OpenRead, chunk)
    }
}

impl Drop for OpenRead {
    fn drop(&mut self) {
        OPEN_READS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}
/// Buffered before the first part goes out; also the multipart part size.
/// The same for the local filesystem store.
const LOCAL_WRITE_BUFFER: usize = 256 * 1024;
pub(crate) const WRITE_BUFFER: usize = 8 * 1024 * 1024;

pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<Bytes>>;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// How tus writes resumably into this store (see [`resumable`]).
    resumable: resumable::Resumable,
    /// The same store as a multipart store, where uploads over one part go
    /// through a store-side multipart upload whose id is journaled (S3, GCS,
    /// Azure, memory), so a crash leaves an upload the sweeper can abort.
    multipart: Option<Arc<dyn MultipartStore>>,
    /// The directory of a `file://` store, where object_store's `<key>#<n>`
    /// staging files live until renamed (see [`Blobs::sweep_staging_files`]).
    local_root: Option<std::path::PathBuf>,
    /// The S3 store itself, when it is one (presigns direct part uploads).
    s3: Option<Arc<object_store::aws::AmazonS3>>,
    url: String,
}

/// Where a streaming put records the store-side multipart upload it starts,
/// before the first part is sent, and forgets it once it is completed or
/// aborted. What a crash leaves recorded is aborted by the sweeper.
#[async_trait::async_trait]
pub trait Journal: Send + Sync {
    async fn started(&self, key: &str, upload_id: &str) -> AppResult<()>;
    async fn finished(&self, key: &str);
}

/// A journal for puts that need none (tests, small objects).
pub struct NoJournal;

#[async_trait::async_trait]
impl Journal for NoJournal {
    async fn started(&self, _: &str, _: &str) -> AppResult<()> {
        Ok(())
    }
    async fn finished(&self, _: &str) {}
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
    /// The multipart upload could not be journaled.
    Journal(String),
    /// The bytes did not match a digest the client declared (RFC 9530).
    Digest(digest::Mismatch),
}

impl From<meter::Stop> for PutError {
    fn from(stop: meter::Stop) -> PutError {
        match stop {
            meter::Stop::Body(why) => PutError::Body(why),
            meter::Stop::TooLarge { limit } => PutError::TooLarge { limit },
        }
    }
}

impl PutError {
    /// The digests of a metered body that ended, or the declared one they
    /// do not match.
    pub(super) fn verified<E: std::fmt::Display>(
        meter: meter::Meter<'_, E>,
    ) -> Result<digest::Computed, PutError> {
        match meter.verify() {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(PutError::Body("no digest was computed".into())),
            Err(m) => Err(PutError::Digest(m)),
        }
    }
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
            PutError::Store(err) => err.into(),
            PutError::Journal(cause) => AppError::Unavailable { cause },
            PutError::Digest(m) => m.into(),
        }
    }
}

impl Blobs {
    /// `file://<dir>` (relative or absolute; created if missing), `memory://`, or any
    /// URL object_store parses (`s3://bucket`, `gs://…`, `az://…`). Query parameters
    /// are passed to the store's builder as options (`?endpoint=…&region=…&allow_http=true`);
    /// for S3 the usual `AWS_*` environment variables are read too.
    pub fn from_url(url: &str) -> Result<Blobs, String> {
        let (store, resumable, s3) = resumable::open(url)?;
        // Stores with a native multipart upload (S3, GCS, Azure, memory) also
        // take big streaming puts through a journaled multipart upload.
        let multipart = match &resumable {
            resumable::Resumable::Native(mp) => Some(mp.clone()),
            _ => None,
        };
        let local_root = match url.strip_prefix("file://") {
            Some(dir) => Some(std::fs::canonicalize(dir).map_err(|e| format!("{dir}: {e}"))?),
            None => None,
        };
        Ok(Blobs {
            store,
            resumable,
            multipart,
            local_root,
            s3,
            url: redact(url),
        })
    }

    /// The storage URL with credentials removed, for logs.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// Streams `body` into `key`, hashing and counting; fails (and aborts the
    /// partial object) once more than `limit` bytes arrive. A store-side
    /// multipart upload is recorded in `journal` before its first part.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        body: S,
        limit: u64,
        journal: &dyn Journal,
    ) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        self.put_stream_verified(key, body, limit, None, journal)
            .await
    }

    /// [`Blobs::put_stream`], also checking the digests the client declared
    /// (SHA-512 is computed only when one was): on a mismatch the partial
    /// object is aborted before it is ever completed, so nothing is stored.
    pub async fn put_stream_verified<S, E>(
        &self,
        key: &str,
        body: S,
        limit: u64,
        expected: Option<digest::Expected>,
        journal: &dyn Journal,
    ) -> Result<Stored, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        if let Some(mp) = &self.multipart {
            let put = multipart::TrackedPut::new(self.store.clone(), mp.clone(), key, journal);
            return put.run(body, limit, expected).await;
        }
        // A local file takes any part size: buffer little, so memory per
        // upload stays small whatever the file size.
        let capacity = if self.local_root.is_some() {
            LOCAL_WRITE_BUFFER
        } else {
            WRITE_BUFFER
        };
        let mut writer = BufWriter::with_capacity(self.store.clone(), key.into(), capacity)
            .with_max_concurrency(2);
        let mut meter = meter::Meter::new(body, limit, Some(digest::Digester::new(expected)));
        let failure = loop {
            match meter.next().await {
                None => break None,
                Some(Err(stop)) => break Some(PutError::from(stop)),
                Some(Ok(chunk)) => {
                    if let Err(e) = writer.write_all(&chunk).await {
                        break Some(PutError::Store(io_to_store(e)));
                    }
                }
            }
        };
        let size = meter.received();
        let verified = match failure {
            Some(err) => Err(err),
            None => PutError::verified(meter),
        };
        let computed = match verified {
            Ok(c) => c,
            Err(err) => {
                let _ = writer.abort().await;
                return Err(err);
            }
        };
        if let Err(e) = writer.shutdown().await {
            // (`abort` panics once a shutdown has begun.) The staging file
            // goes now, not whenever the dropped upload gets to it.
            drop(writer);
            if let Some(root) = self.local_root.clone() {
                let key = key.to_string();
                let _ = tokio::task::spawn_blocking(move || local::remove_staging_of(&root, &key))
                    .await;
            }
            return Err(PutError::Store(io_to_store(e)));
        }
        Ok(Stored {
            size,
            sha256: hex::encode(computed.sha256),
        })
    }

    /// Aborts a store-side multipart upload a crash left behind (a missing
    /// upload counts as aborted).
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> AppResult<()> {
        let Some(mp) = &self.multipart else {
            return Ok(());
        };
        match mp
            .abort_multipart(&ObjectPath::from(key), &upload_id.to_string())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// For a `file://` store: removes object_store's staging files
    /// (`<key>#<n>`) not modified for `older_than` — what a crash mid-write
    /// left; returns how many went. Other stores have none.
    pub async fn sweep_staging_files(&self, older_than: std::time::Duration) -> usize {
        let Some(root) = self.local_root.clone() else {
            return 0;
        };
        tokio::task::spawn_blocking(move || local::sweep_staging(&root, older_than))
            .await
            .unwrap_or(0)
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
                let (open, chunk) = OpenRead::start();
                Ok(tokio_util::io::ReaderStream::with_capacity(reader, chunk)
                    .map(move |r| {
                        let _counted = &open;
                        r
                    })
                    .boxed())
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
    /// Deletes the object, and on the local store the staging files a write
    /// of it may have left (a crash mid-upload: `<key>#<n>`).
    pub async fn delete(&self, key: &str) -> AppResult<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(root) = self.local_root.clone() {
            let key = key.to_string();
            let _ =
                tokio::task::spawn_blocking(move || local::remove_staging_candidates(&root, &key))
                    .await;
        }
        Ok(())
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
    /// A store that refuses the request (wrong credentials, say) is not
    /// ready either: always 503 here, never the 500 of a refused request.
    pub async fn ping(&self) -> AppResult<()> {
        match self.exists(".stowage-ready").await {
            Ok(_) => Ok(()),
            Err(e @ AppError::Unavailable { .. }) => Err(e),
            Err(other) => Err(AppError::Unavailable {
                cause: other.to_string(),
            }),
        }
    }
}

/// A file row pointing at a missing object is an internal inconsistency, except
/// in the window where a concurrent delete removed it: the caller maps it to 404.
fn store_read_error(e: object_store::Error) -> AppError {
    AppError::from(e)
}

pub(crate) fn io_to_store(e: std::io::Error) -> object_store::Error {
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
