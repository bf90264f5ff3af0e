//! The metadata store: one trait of domain operations, each one transaction,
//! with a PostgreSQL and a SQLite implementation sharing the same SQL.

#[macro_use]
mod refs;
#[macro_use]
pub mod webhooks;
mod accounts;
mod files;
mod folders;
mod images;
mod keyring;
mod nodes;
#[macro_use]
mod moves;
mod postgres;
#[macro_use]
pub(crate) mod search;
mod sessions;
mod sql;
mod sqlite;
mod tokens;
mod tus;
mod upload_hooks;
mod uploads;
pub mod usage;
mod usage_daily;

pub use accounts::AccountStore;
pub use files::FileStore;
pub use folders::FolderStore;
pub use images::{DerivedRow, ImageStore, PresetRow, ProbeRow};
pub use keyring::{KeyringStore, Reseal};
pub use moves::{MoveOutcome, MoveStore};
pub use nodes::NodeStore;
pub use postgres::PgMeta;
pub use refs::{BlobClaim, BlobStore, DigestOutcome};
pub use search::{SearchQuery, SearchSort, SearchStore, SortKey};
pub use sessions::SessionStore;
pub use sqlite::SqliteMeta;
pub use tokens::TokenStore;
pub use tus::{TusProgress, TusStore, TusUpload};
pub use upload_hooks::{UploadHookRow, UploadHookStore};
pub use uploads::{ExpiredUpload, UploadStore};
pub use usage::{UsageRow, UsageStore};
pub use usage_daily::{day_of, Daily, DailyCounter, DailyRow, UsageDailyStore};
pub use webhooks::{AttemptResult, AttemptRow, DueDelivery, WebhookRow, WebhookStore};

use crate::error::AppResult;
use async_trait::async_trait;
use std::sync::Arc;

pub type Meta = Arc<dyn MetaStore>;

/// How many versions of a file are kept, the current one included (SPEC §5: the
/// current plus up to 100 previous).
pub const MAX_VERSIONS: i64 = 101;

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Account {
    pub id: String,
    pub sandbox: bool,
    pub max_file_size: Option<i64>,
    pub allowed_mime: Option<String>,
    pub created_at: i64,
    /// Quota on the bytes of every kept version (None: the default, see
    /// [`usage::effective_quotas`]).
    pub max_storage_bytes: Option<i64>,
    /// Quota on current files (None: the default).
    pub max_files: Option<i64>,
}

/// An account's settable limits (SPEC §5 and §12); None: the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountLimits {
    pub max_file_size: Option<i64>,
    pub allowed_mime: Option<String>,
    pub max_storage_bytes: Option<i64>,
    pub max_files: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub account_id: String,
    pub key_hash: String,
    pub key_type: String,
    pub name: String,
    pub display: String,
    /// JSON array of `{path, ops}`.
    pub rules: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Milliseconds, to the minute (see `MetaStore::touch_api_key`).
    pub last_used_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct JwtKeyRow {
    pub kid: String,
    pub account_id: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    pub name: String,
    pub pem: String,
    pub created_at: i64,
}

/// One stored version of a file; the current one when read through `get_file`.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct FileRow {
    pub account_id: String,
    pub path: String,
    pub version_id: String,
    pub blob_key: String,
    pub size: i64,
    pub mime: String,
    pub etag: String,
    pub original_file_name: Option<String>,
    /// JSON object.
    pub metadata: String,
    /// JSON array of strings.
    pub tags: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// The whole file's SHA-256 (lower-case hex), once known (RFC 9530
    /// `Repr-Digest`); None until the background digest pass has read it.
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct FolderRow {
    pub account_id: String,
    pub path: String,
    pub parent: String,
    /// Created by PutFolder (vs. existing only as the parent of files).
    pub explicit: bool,
    /// JSON object of the folder's own settings.
    pub settings: String,
    pub created_at: i64,
}

/// Where a listing page starts: after this item (folders sort before files at
/// the same path).
#[derive(Clone, Debug, PartialEq)]
pub enum After {
    Start,
    Folder(String),
    File(String),
}

#[derive(Clone, Debug)]
pub struct ListQuery {
    pub account_id: String,
    pub folder: String,
    pub recursive: bool,
    pub include_files: bool,
    pub after: After,
    pub limit: i64,
}

/// A multipart upload session.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UploadSession {
    pub id: String,
    pub account_id: String,
    /// `open`, `completing`, `done` or `failed`.
    pub status: String,
    /// JSON: the resolved path, fallback, mime, names, metadata, tags.
    pub spec: String,
    pub size: i64,
    pub part_size: i64,
    pub part_count: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// The final object, when parts are written straight into it (in place).
    pub blob_key: Option<String>,
    /// The store's multipart upload of `blob_key` (S3, GCS, Azure).
    pub multipart_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UploadPart {
    pub upload_id: String,
    pub idx: i64,
    pub etag: String,
    pub size: i64,
    pub confirmed: bool,
    /// The attempt's own object; empty when the part is in place.
    pub blob_key: String,
    /// The store's part id (S3's part ETag) of an in-place part.
    pub store_part: Option<String>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UploadTokenRow {
    pub token_hash: String,
    pub account_id: String,
    pub path: String,
    pub max_size: Option<i64>,
    pub mime: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// What spending an upload token found.
#[derive(Debug, PartialEq)]
pub enum Spend {
    Spent(UploadTokenRow),
    AlreadyUsed,
    Expired,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub account_id: String,
    pub name: String,
    pub secret_enc: String,
    pub created_at: i64,
}

#[derive(Debug, PartialEq)]
pub enum CommitOutcome {
    /// The file is visible, its version holding `blob_key` (an existing blob of
    /// the account with the same bytes, or the committed one). `dropped_blobs`
    /// are no longer referenced (pruned history, or the committed blob when an
    /// identical one was reused) and are queued for deletion (due now).
    Committed {
        dropped_blobs: Vec<String>,
        blob_key: String,
    },
    /// A file exists at the path and overwriting was not allowed; nothing changed.
    Exists,
}

/// Every metadata operation, by area (one file each); `backend` and `ping`
/// are per backend.
#[async_trait]
pub trait MetaStore:
    AccountStore
    + FileStore
    + MoveStore
    + SearchStore
    + UsageDailyStore
    + FolderStore
    + ImageStore
    + UploadStore
    + TokenStore
    + TusStore
    + UsageStore
    + BlobStore
    + SessionStore
    + KeyringStore
    + WebhookStore
    + UploadHookStore
    + NodeStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> AppResult<()>;
}

/// Opens the store named by a `sqlite://` or `postgres://` URL and applies migrations.
pub async fn connect(url: &str) -> Result<Meta, String> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteMeta::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgMeta::connect(url, None).await?))
    } else {
        Err(format!(
            "DATABASE_URL must start with sqlite:// or postgres://, got {:?}",
            url.split(':').next().unwrap_or("")
        ))
    }
}

/// The folders above a path, outermost first, as (folder, its parent); the root
/// is not included. `/a/b/c.txt` → `[("/a", "/"), ("/a/b", "/a")]`.
pub fn ancestors(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut end = 0;
    while let Some(i) = path[end + 1..].find('/') {
        let folder = &path[..end + 1 + i];
        out.push((folder.to_string(), parent_of(folder).to_string()));
        end += 1 + i;
    }
    out
}

/// `/a/b` → `/a`; `/a` → `/`; `/` → ``.
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        _ if path == "/" => "",
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// The bytewise range `[lo, hi)` of paths strictly below `folder`.
pub fn subtree_range(folder: &str) -> (String, String) {
    if folder == "/" {
        ("/".into(), "0".into())
    } else {
        (format!("{folder}/"), format!("{folder}0"))
    }
}

/// Milliseconds since the Unix epoch.
/// Runs the transaction `attempt` builds, again when it lost a deadlock or
/// serialization race to a concurrent one (PostgreSQL aborts one of two
/// transactions that wait on each other; the advice is to retry it). Gives up
/// after a few tries with the 503 the last one produced.
pub async fn contended<T, F, Fut>(attempt: F) -> AppResult<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Err(e) if e.is_contention() && tries < 8 => {
                tries += 1;
                // A short, growing pause lets the winner commit first.
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(tries) * 3)).await;
            }
            done => return done,
        }
    }
}

/// Cached transformation results kept per source version (issue #28): past
/// this, the oldest are dropped as a new one is stored.
pub const MAX_DERIVED_PER_SOURCE: i64 = 64;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn lost_race() -> AppError {
        // What a PostgreSQL deadlock abort converts to.
        AppError::Unavailable {
            cause: format!("{}deadlock detected", "transaction contention: "),
        }
    }

    #[tokio::test]
    async fn contended_transactions_are_retried_then_given_up() {
        let runs = AtomicU32::new(0);
        let out = contended(|| async {
            match runs.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(lost_race()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(out.unwrap(), 2, "third run wins");
        let runs = AtomicU32::new(0);
        let out: AppResult<()> = contended(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(lost_race())
        })
        .await;
        assert!(out.unwrap_err().is_contention());
        assert_eq!(runs.load(Ordering::SeqCst), 9, "one run and eight retries");
        // Other failures are not retried.
        let runs = AtomicU32::new(0);
        let out: AppResult<()> = contended(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(AppError::Unavailable {
                cause: "pool timed out".into(),
            })
        })
        .await;
        assert!(!out.unwrap_err().is_contention());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn ancestors_and_parents() {
        assert_eq!(
            ancestors("/a/b/c.txt"),
            vec![("/a".into(), "/".into()), ("/a/b".into(), "/a".into())]
        );
        assert!(ancestors("/c.txt").is_empty());
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("/"), "");
        assert_eq!(subtree_range("/a"), ("/a/".into(), "/a0".into()));
    }
}
