//! What downloads read from memory: path → current version (for ≤ 1 s, so
//! another node's overwrite or delete is seen that late at most), with the
//! response header values prebuilt, and the bytes of small files (blobs never
//! change once written, so they need no invalidation). Lookups allocate nothing.

use super::TtlCache;
use super::CACHE_TTL;
use crate::blobs::Blobs;
use crate::error::AppResult;
use crate::meta::{DerivedRow, FileRow, Meta};
use axum::http::HeaderValue;
use bytes::Bytes;
use quick_cache::{Equivalent, Weighter};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A file version as downloads serve it: the row and its header values.
pub struct Served {
    pub row: FileRow,
    /// `"<etag>"`.
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub modified: SystemTime,
    pub content_type: HeaderValue,
    /// `sha-256=:<base64>:` when the whole file's SHA-256 is known (RFC 9530).
    pub repr_digest: Option<HeaderValue>,
}

impl Served {
    pub fn new(row: FileRow) -> Served {
        let modified = UNIX_EPOCH + Duration::from_millis(row.created_at.max(0) as u64);
        let value = |s: &str| {
            HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        };
        Served {
            etag: value(&format!("\"{}\"", row.etag)),
            last_modified: value(&httpdate::fmt_http_date(modified)),
            content_type: HeaderValue::from_str(&row.mime)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
            modified,
            repr_digest: row
                .sha256
                .as_deref()
                .and_then(crate::blobs::digest::repr_digest_from_hex)
                .and_then(|v| HeaderValue::from_str(&v).ok()),
            row,
        }
    }
}

/// A pair of strings as a cache key, owned: (account, path) for rows,
/// (source version, transformation key) for derived results.
#[derive(Clone, PartialEq, Eq, Hash)]
struct FileKey(String, String);

/// The same pair, borrowed: hashes exactly like [`FileKey`].
struct FileKeyRef<'a>(&'a str, &'a str);

impl Hash for FileKeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl Equivalent<FileKey> for FileKeyRef<'_> {
    fn equivalent(&self, key: &FileKey) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

#[derive(Clone)]
struct ByteWeight;

impl Weighter<String, Bytes> for ByteWeight {
    fn weight(&self, _key: &String, v: &Bytes) -> u64 {
        v.len().max(1) as u64
    }
}

pub struct FileCache {
    /// (account, path) → current version (None: no file).
    rows: TtlCache<FileKey, Option<Arc<Served>>>,
    /// blob key → bytes of small files.
    bytes: quick_cache::sync::Cache<String, Bytes, ByteWeight>,
    /// (source version, cache key) → a cached transformation result, ready
    /// to serve (row and header values built once). Only hits are kept: a
    /// result never changes, and one whose version is dropped is never asked
    /// for again (lookups use the current version).
    derived: TtlCache<FileKey, Arc<Served>>,
    /// version id → the image format its bytes were recognised as (for
    /// sources stored with a MIME type that does not name it).
    formats: TtlCache<String, crate::images::Format>,
}

impl FileCache {
    /// `capacity`: bytes of small files kept.
    pub fn new(capacity: u64) -> FileCache {
        FileCache {
            rows: TtlCache::new(100_000, CACHE_TTL),
            bytes: quick_cache::sync::Cache::with_weighter(
                (capacity / 4096).clamp(16, 1_000_000) as usize,
                capacity.max(1),
                ByteWeight,
            ),
            derived: TtlCache::new(100_000, Duration::from_secs(600)),
            formats: TtlCache::new(100_000, Duration::from_secs(86_400)),
        }
    }

    /// The format a version's bytes were recognised as, if known.
    pub async fn format_of(&self, version_id: &str) -> Option<crate::images::Format> {
        self.formats.get(version_id)
    }

    /// Remembers what a version's bytes are (versions never change).
    pub async fn remember_format(&self, version_id: &str, format: crate::images::Format) {
        self.formats.insert(version_id.to_string(), format);
    }

    /// A cached transformation result, from memory or the database; `serve`
    /// describes a row found in the database (once, then kept).
    pub async fn derived(
        &self,
        meta: &Meta,
        version_id: &str,
        cache_key: &str,
        serve: impl FnOnce(&DerivedRow) -> Served,
    ) -> AppResult<Option<Arc<Served>>> {
        if let Some(hit) = self.derived.get(&FileKeyRef(version_id, cache_key)) {
            crate::metrics::cache_lookup(crate::metrics::Cache::Derived, true);
            return Ok(Some(hit));
        }
        crate::metrics::cache_lookup(crate::metrics::Cache::Derived, false);
        let Some(row) = meta.get_derived(version_id, cache_key).await? else {
            return Ok(None);
        };
        let served = Arc::new(serve(&row));
        let key = FileKey(version_id.to_string(), cache_key.to_string());
        self.derived.insert(key, served.clone());
        Ok(Some(served))
    }

    /// The current version at a path, from the cache or the database.
    pub async fn current(
        &self,
        meta: &Meta,
        account: &str,
        path: &str,
    ) -> AppResult<Option<Arc<Served>>> {
        if let Some(hit) = self.rows.get(&FileKeyRef(account, path)) {
            crate::metrics::cache_lookup(crate::metrics::Cache::Files, true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup(crate::metrics::Cache::Files, false);
        let key = FileKey(account.to_string(), path.to_string());
        self.rows
            .get_or_load(key, || async move {
                Ok(meta
                    .get_file(account, path)
                    .await?
                    .map(|r| Arc::new(Served::new(r))))
            })
            .await
    }

    /// Forgets a cached path on this node after a write to it.
    pub async fn forget(&self, account: &str, path: &str) {
        self.rows.invalidate(&FileKeyRef(account, path));
    }

    /// The whole blob, reading it on a miss (one read per key at a time).
    pub async fn small_blob(&self, blobs: &Blobs, blob_key: &str) -> AppResult<Bytes> {
        if let Some(hit) = self.bytes.get(blob_key) {
            crate::metrics::cache_lookup(crate::metrics::Cache::Bytes, true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup(crate::metrics::Cache::Bytes, false);
        match self.bytes.get_value_or_guard_async(blob_key).await {
            Ok(hit) => Ok(hit),
            Err(guard) => {
                let bytes = blobs.get_bytes(blob_key).await?;
                let _ = guard.insert(bytes.clone());
                Ok(bytes)
            }
        }
    }
}
