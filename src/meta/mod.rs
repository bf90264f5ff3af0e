//! The metadata store: one trait of domain operations, each one transaction,
//! with a PostgreSQL and a SQLite implementation sharing the same SQL.

mod postgres;
mod sql;
mod sqlite;
pub mod usage;

pub use postgres::PgMeta;
pub use sqlite::SqliteMeta;

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
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UploadPart {
    pub upload_id: String,
    pub idx: i64,
    pub etag: String,
    pub size: i64,
    pub confirmed: bool,
    pub blob_key: String,
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
    /// The file is visible. `dropped_blobs` were pruned from its history and are
    /// queued for deletion (due now).
    Committed { dropped_blobs: Vec<String> },
    /// A file exists at the path and overwriting was not allowed; nothing changed.
    Exists,
}

#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Which backend this is (`sqlite` or `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> AppResult<()>;

    async fn create_account(&self, account: &Account) -> AppResult<()>;
    async fn get_account(&self, id: &str) -> AppResult<Option<Account>>;
    async fn list_accounts(&self) -> AppResult<Vec<Account>>;
    /// Sets an account's limits (None: the server default / any type).
    async fn set_account_limits(
        &self,
        id: &str,
        max_file_size: Option<i64>,
        allowed_mime: Option<&str>,
    ) -> AppResult<bool>;
    /// Files of sandbox accounts whose current version is older than `cutoff`
    /// (epoch ms), as (account, path).
    async fn expired_sandbox_files(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> AppResult<Vec<(String, String)>>;

    async fn insert_api_key(&self, key: &ApiKeyRow) -> AppResult<()>;
    /// The key with this SHA-256 hash, revoked or not.
    async fn find_api_key(&self, key_hash: &str) -> AppResult<Option<ApiKeyRow>>;
    async fn list_api_keys(&self, account_id: &str) -> AppResult<Vec<ApiKeyRow>>;
    /// Marks the key revoked; false when the account has no such live key.
    async fn revoke_api_key(&self, account_id: &str, key_id: &str, now: i64) -> AppResult<bool>;

    async fn insert_jwt_key(&self, key: &JwtKeyRow) -> AppResult<()>;
    async fn list_jwt_keys(&self, account_id: &str) -> AppResult<Vec<JwtKeyRow>>;
    /// False when the account has no such key.
    async fn delete_jwt_key(&self, account_id: &str, kid: &str) -> AppResult<bool>;

    async fn get_file(&self, account_id: &str, path: &str) -> AppResult<Option<FileRow>>;
    async fn get_version(
        &self,
        account_id: &str,
        path: &str,
        version_id: &str,
    ) -> AppResult<Option<FileRow>>;
    /// Every kept version of the file, newest first (the current one first).
    async fn list_versions(&self, account_id: &str, path: &str) -> AppResult<Vec<FileRow>>;
    /// Makes `file` the current version at its path, in one transaction: records the
    /// version, points the path at it (only if absent unless `overwrite`), clears
    /// the blob's pending-GC entry, and prunes history beyond [`MAX_VERSIONS`].
    async fn commit_file(&self, file: &FileRow, overwrite: bool) -> AppResult<CommitOutcome>;
    /// Removes the file and its history; their blobs are queued for deletion.
    /// Returns the queued blob keys (empty when there was no file).
    async fn delete_file(&self, account_id: &str, path: &str, now: i64) -> AppResult<Vec<String>>;

    async fn get_folder(&self, account_id: &str, path: &str) -> AppResult<Option<FolderRow>>;
    /// Creates or updates an explicit folder with these settings (and its
    /// ancestors as implicit folders).
    async fn put_folder(
        &self,
        account_id: &str,
        path: &str,
        settings: &str,
        now: i64,
    ) -> AppResult<FolderRow>;
    /// Every folder of the account that has settings: (path, settings JSON).
    async fn folder_settings(&self, account_id: &str) -> AppResult<Vec<(String, String)>>;
    /// Whether any file or folder lies below `path`.
    async fn folder_has_content(&self, account_id: &str, path: &str) -> AppResult<bool>;
    /// One page of a folder's children (or whole subtree), each kind in path order.
    async fn list_folder(&self, q: &ListQuery) -> AppResult<(Vec<FolderRow>, Vec<FileRow>)>;
    /// Clears the folder's own settings (and, if `recursive`, every subfolder's)
    /// and removes the folders left with nothing below them. Returns how many
    /// folder rows were removed.
    async fn delete_folders(&self, account_id: &str, path: &str, recursive: bool)
        -> AppResult<u64>;

    async fn create_upload(&self, u: &UploadSession) -> AppResult<()>;
    async fn get_upload(&self, account_id: &str, id: &str) -> AppResult<Option<UploadSession>>;
    /// Records that a part's bytes are stored in `blob_key`, only while the
    /// session is open (a retry replaces the record and un-confirms it if the
    /// bytes changed). Returns whether it was recorded and the blob it replaced.
    async fn record_part(&self, part: &UploadPart) -> AppResult<(bool, Option<String>)>;
    /// Confirms a stored part whose etag matches; false otherwise.
    async fn confirm_part(&self, upload_id: &str, idx: i64, etag: &str) -> AppResult<bool>;
    async fn list_parts(&self, upload_id: &str) -> AppResult<Vec<UploadPart>>;
    /// Moves an open session whose every part is confirmed to `completing`;
    /// true for exactly one caller.
    async fn claim_upload(&self, upload_id: &str) -> AppResult<bool>;
    async fn set_upload_status(&self, upload_id: &str, status: &str) -> AppResult<()>;
    /// Sessions past their expiry (any status but `done`), as (id, account).
    async fn expired_uploads(&self, now: i64, limit: i64) -> AppResult<Vec<(String, String)>>;
    /// Forgets a session and its parts.
    async fn delete_upload(&self, upload_id: &str) -> AppResult<()>;

    async fn insert_upload_token(&self, t: &UploadTokenRow) -> AppResult<()>;
    async fn get_upload_token(&self, token_hash: &str) -> AppResult<Option<UploadTokenRow>>;
    /// Marks the token used, atomically: exactly one caller gets `Spent`.
    async fn spend_upload_token(&self, token_hash: &str, now: i64) -> AppResult<Spend>;
    /// Forgets tokens that expired before `before`.
    async fn prune_upload_tokens(&self, before: i64) -> AppResult<u64>;

    async fn insert_signing_key(&self, k: &SigningKeyRow) -> AppResult<()>;
    async fn get_signing_key(&self, kid: &str) -> AppResult<Option<SigningKeyRow>>;
    async fn list_signing_keys(&self, account_id: &str) -> AppResult<Vec<SigningKeyRow>>;
    async fn delete_signing_key(&self, account_id: &str, kid: &str) -> AppResult<bool>;
    /// Records a client token as used; false if it already was (a replay).
    async fn use_token_once(&self, token_hash: &str, expires_at: i64) -> AppResult<bool>;
    /// Forgets used tokens that expired before `before`.
    async fn prune_used_tokens(&self, before: i64) -> AppResult<u64>;

    /// Queues a blob for deletion at `due_at` unless a commit claims it first.
    async fn gc_register(&self, blob_key: &str, due_at: i64) -> AppResult<()>;
    /// Blob keys whose deletion is due.
    async fn gc_due(&self, now: i64, limit: i64) -> AppResult<Vec<String>>;
    /// Forgets a queued blob (after it was deleted).
    async fn gc_remove(&self, blob_key: &str) -> AppResult<()>;

    /// Files and bytes an account stores (the dashboard's account page); see `usage.rs`.
    fn account_usage<'a>(
        &'a self,
        account_id: &'a str,
    ) -> futures::future::BoxFuture<'a, AppResult<usage::AccountUsage>>;
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
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

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
