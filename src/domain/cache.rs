//! What downloads read from memory: path → current version (for ≤ 1 s, so
//! another node's overwrite or delete is seen that late at most) and the bytes
//! of small files (blobs never change once written, so they need no
//! invalidation).

use crate::auth::CACHE_TTL;
use crate::blobs::Blobs;
use crate::error::{AppError, AppResult};
use crate::meta::{FileRow, Meta};
use bytes::Bytes;
use moka::future::Cache;
use std::sync::Arc;

pub struct FileCache {
    /// (account, path) → current version (None: no file).
    rows: Cache<(String, String), Option<Arc<FileRow>>>,
    /// blob key → bytes of small files.
    bytes: Cache<String, Bytes>,
}

fn unwrap_shared(e: Arc<AppError>) -> AppError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| shared.duplicate())
}

impl FileCache {
    /// `capacity`: bytes of small files kept.
    pub fn new(capacity: u64) -> FileCache {
        FileCache {
            rows: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            bytes: Cache::builder()
                .max_capacity(capacity)
                .weigher(|_k: &String, v: &Bytes| v.len().try_into().unwrap_or(u32::MAX))
                .build(),
        }
    }

    /// The current version at a path, from the cache or the database.
    pub async fn current(
        &self,
        meta: &Meta,
        account: &str,
        path: &str,
    ) -> AppResult<Option<Arc<FileRow>>> {
        let key = (account.to_string(), path.to_string());
        if let Some(hit) = self.rows.get(&key).await {
            crate::metrics::cache_lookup("files", true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup("files", false);
        let meta = meta.clone();
        let (a, p) = (account.to_string(), path.to_string());
        self.rows
            .try_get_with(key, async move {
                Ok(meta.get_file(&a, &p).await?.map(Arc::new))
            })
            .await
            .map_err(unwrap_shared)
    }

    /// Forgets a cached path on this node after a write to it.
    pub async fn forget(&self, account: &str, path: &str) {
        self.rows
            .invalidate(&(account.to_string(), path.to_string()))
            .await;
    }

    /// The whole blob, reading it on a miss.
    pub async fn small_blob(&self, blobs: &Blobs, blob_key: &str) -> AppResult<Bytes> {
        if let Some(hit) = self.bytes.get(blob_key).await {
            crate::metrics::cache_lookup("bytes", true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup("bytes", false);
        let blobs = blobs.clone();
        let k = blob_key.to_string();
        self.bytes
            .try_get_with(
                blob_key.to_string(),
                async move { blobs.get_bytes(&k).await },
            )
            .await
            .map_err(unwrap_shared)
    }
}
