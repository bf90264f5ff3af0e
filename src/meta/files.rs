//! Files and their versions.
//!
//! The trait is implemented for both backends from one SQL body (see `sql.rs`).

use super::*;
use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait FileStore: Send + Sync {
    async fn get_file(&self, account_id: &str, path: &str) -> AppResult<Option<FileRow>>;
    async fn get_version(
        &self,
        account_id: &str,
        path: &str,
        version_id: &str,
    ) -> AppResult<Option<FileRow>>;
    /// Every kept version of the file, newest first (the current one first).
    async fn list_versions(&self, account_id: &str, path: &str) -> AppResult<Vec<FileRow>>;
    /// Makes `file` the current version at its path, in one transaction: takes
    /// hold of its blob as `claim` says (reusing the account's blob with the
    /// same SHA-256, see `refs.rs`), records the version, points the path at it
    /// (only if absent unless `overwrite`), and prunes history beyond
    /// [`MAX_VERSIONS`], releasing the pruned versions' blobs.
    async fn commit_file(
        &self,
        file: &FileRow,
        overwrite: bool,
        claim: BlobClaim,
    ) -> AppResult<CommitOutcome>;
    /// Removes the file and its history, releasing their blobs; those left
    /// unreferenced are queued for deletion and returned. None when there was
    /// no file.
    async fn delete_file(
        &self,
        account_id: &str,
        path: &str,
        now: i64,
    ) -> AppResult<Option<Vec<String>>>;
    /// Files of sandbox accounts whose current version is older than `cutoff`
    /// (epoch ms), as (account, path).
    async fn expired_sandbox_files(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> AppResult<Vec<(String, String)>>;
}

/// The blob keys of dropped versions (`(blob_key, version_id, size)`) plus those of
/// their cached transformation results, whose rows are removed in the same
/// transaction (the caller queues every key for deletion).
pub(super) async fn drop_derived<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    versions: &[(String, String, i64)],
) -> AppResult<Vec<String>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (String, String, i64): sqlx::FromRow<'r, DB::Row>,
{
    let mut dropped = Vec::new();
    for (_, version_id, _) in versions {
        let derived: Vec<(String, String, i64)> = sqlx::query_as(sql::DROP_DERIVED)
            .bind(version_id.clone())
            .fetch_all(&mut **tx)
            .await?;
        dropped.extend(derived);
    }
    unstore_derived(tx, dropped).await
}

/// Subtracts dropped cached results (`(blob_key, account, size)`) from their
/// accounts' stored bytes (issue #28); returns their blob keys.
async fn unstore_derived<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    dropped: Vec<(String, String, i64)>,
) -> AppResult<Vec<String>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut per_account: std::collections::BTreeMap<String, i64> = Default::default();
    let mut keys = Vec::with_capacity(dropped.len());
    for (key, account, size) in dropped {
        *per_account.entry(account).or_default() += size;
        keys.push(key);
    }
    for (account, bytes) in per_account {
        sqlx::query(super::usage::UNSTORE)
            .bind(account)
            .bind(bytes)
            .execute(&mut **tx)
            .await?;
    }
    Ok(keys)
}

/// Drops the cached transformation results of every version of `f`'s path
/// but `f` (just made current); returns their blob keys.
pub(super) async fn stale_derived<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    f: &FileRow,
) -> AppResult<Vec<String>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (String, String, i64): sqlx::FromRow<'r, DB::Row>,
{
    let stale: Vec<(String, String, i64)> = sqlx::query_as(sql::DROP_STALE_DERIVED)
        .bind(f.account_id.clone())
        .bind(f.path.clone())
        .bind(f.version_id.clone())
        .fetch_all(&mut **tx)
        .await?;
    unstore_derived(tx, stale).await
}

/// The cached transformation results of `pruned` versions and of every
/// other version of `f`'s path, dropped and queued for deletion.
pub(super) async fn queue_derived<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    pruned: &[(String, String, i64)],
    f: &FileRow,
) -> AppResult<Vec<String>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (String, String, i64): sqlx::FromRow<'r, DB::Row>,
{
    let mut derived = drop_derived(tx, pruned).await?;
    derived.extend(stale_derived(tx, f).await?);
    queue_gc(tx, &derived, f.created_at).await?;
    Ok(derived)
}

/// Gives `f`'s version a time after every other version of its path. Called
/// once the file's pointer row is locked (the upsert), so versions are
/// ordered by commit: `versions[0]` is always the one served, however many
/// overwrites race. Returns the time given.
pub(super) async fn order_version<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    f: &FileRow,
) -> AppResult<i64>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (Option<i64>,): sqlx::FromRow<'r, DB::Row>,
{
    let (latest,): (Option<i64>,) = sqlx::query_as(
        "SELECT MAX(created_at) FROM file_versions \
         WHERE account_id = $1 AND path = $2 AND version_id <> $3",
    )
    .bind(f.account_id.clone())
    .bind(f.path.clone())
    .bind(f.version_id.clone())
    .fetch_one(&mut **tx)
    .await?;
    let at = match latest {
        Some(latest) if latest >= f.created_at => latest + 1,
        _ => return Ok(f.created_at),
    };
    sqlx::query("UPDATE file_versions SET created_at = $1 WHERE version_id = $2")
        .bind(at)
        .bind(f.version_id.clone())
        .execute(&mut **tx)
        .await?;
    Ok(at)
}

/// Queues every key of `keys` for deletion at `at` (in `blob_gc`).
pub(super) async fn queue_gc<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    keys: &[String],
    at: i64,
) -> AppResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for key in keys {
        sqlx::query(sql::GC_UPSERT)
            .bind(key.clone())
            .bind(at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

macro_rules! impl_files {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::FileStore for $ty {
            async fn get_file(
                &self,
                account_id: &str,
                path: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::FileRow>> {
                let q = format!(
                    "SELECT {} FROM files f JOIN file_versions v ON v.version_id = f.version_id \
                     WHERE f.account_id = $1 AND f.path = $2",
                    $crate::meta::sql::FILE_COLUMNS
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .bind(path)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn get_version(
                &self,
                account_id: &str,
                path: &str,
                version_id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::FileRow>> {
                let q = format!(
                    "SELECT {} FROM file_versions v \
                     WHERE v.account_id = $1 AND v.path = $2 AND v.version_id = $3",
                    $crate::meta::sql::FILE_COLUMNS
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .bind(path)
                    .bind(version_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_versions(
                &self,
                account_id: &str,
                path: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::FileRow>> {
                let q = format!(
                    "SELECT {} FROM file_versions v WHERE v.account_id = $1 AND v.path = $2 \
                     AND EXISTS (SELECT 1 FROM files f WHERE f.account_id = $1 AND f.path = $2) \
                     ORDER BY v.created_at DESC, v.version_id DESC",
                    $crate::meta::sql::FILE_COLUMNS
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .bind(path)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn commit_file(
                &self,
                f: &$crate::meta::FileRow,
                overwrite: bool,
                claim: $crate::meta::BlobClaim,
            ) -> $crate::error::AppResult<$crate::meta::CommitOutcome> {
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    let (blob_key, redundant) = claim_blob!(tx, f, claim);
                    sqlx::query($crate::meta::sql::INSERT_VERSION)
                    .bind(&f.version_id)
                    .bind(&f.account_id)
                    .bind(&f.path)
                    .bind(&blob_key)
                    .bind(f.size)
                    .bind(&f.mime)
                    .bind(&f.etag)
                    .bind(&f.original_file_name)
                    .bind(&f.metadata)
                    .bind(&f.tags)
                    .bind(f.created_at)
                    .bind(&f.sha256)
                    .execute(&mut *tx)
                    .await?;
                    let pointer = if overwrite {
                        "INSERT INTO files (account_id, path, parent, version_id) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (account_id, path) DO UPDATE SET version_id = excluded.version_id"
                    } else {
                        "INSERT INTO files (account_id, path, parent, version_id) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (account_id, path) DO NOTHING"
                    };
                    let done = sqlx::query(pointer)
                        .bind(&f.account_id)
                        .bind(&f.path)
                        .bind($crate::meta::parent_of(&f.path))
                        .bind(&f.version_id)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        tx.rollback().await?;
                        return Ok($crate::meta::CommitOutcome::Exists);
                    }
                    $crate::meta::files::order_version(&mut tx, f).await?;
                    for (folder, parent) in $crate::meta::ancestors(&f.path) {
                        sqlx::query($crate::meta::sql::INSERT_IMPLICIT_FOLDER)
                        .bind(&f.account_id)
                        .bind(&folder)
                        .bind(&parent)
                        .bind(f.created_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let pruned: Vec<(String, String, i64)> =
                        sqlx::query_as($crate::meta::sql::PRUNE_VERSIONS)
                            .bind(&f.account_id)
                            .bind(&f.path)
                            .bind(&f.version_id)
                            .bind($crate::meta::MAX_VERSIONS)
                            .fetch_all(&mut *tx)
                            .await?;
                    let mut dropped = release_blobs!(tx, pruned.iter().map(|p| &p.0), f.created_at);
                    dropped.extend(redundant);
                    let derived = $crate::meta::files::queue_derived(&mut tx, &pruned, f).await?;
                    dropped.extend(derived);
                    $crate::meta::usage::charge_commit(&mut tx, f, claim, &pruned).await?;
                    let event = created_event!(tx, f);
                    commit_signalled!(self, tx, event);
                    Ok($crate::meta::CommitOutcome::Committed {
                        dropped_blobs: dropped,
                        blob_key,
                    })
                })
                .await
            }

            async fn delete_file(
                &self,
                account_id: &str,
                path: &str,
                now: i64,
            ) -> $crate::error::AppResult<Option<Vec<String>>> {
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    let current: Option<(String,)> = sqlx::query_as(
                        "DELETE FROM files WHERE account_id = $1 AND path = $2 RETURNING version_id",
                    )
                    .bind(account_id)
                    .bind(path)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((current,)) = current else {
                        tx.rollback().await?;
                        return Ok(None);
                    };
                    let event = deleted_event!(tx, account_id, &current, now);
                    let versions: Vec<(String, String, i64)> = sqlx::query_as(
                        "DELETE FROM file_versions WHERE account_id = $1 AND path = $2 \
                         RETURNING blob_key, version_id, size",
                    )
                    .bind(account_id)
                    .bind(path)
                    .fetch_all(&mut *tx)
                    .await?;
                    let keys: Vec<String> = versions.iter().map(|v| v.0.clone()).collect();
                    let mut freed = release_blobs!(tx, &keys, now);
                    let derived = $crate::meta::files::drop_derived(&mut tx, &versions).await?;
                    $crate::meta::files::queue_gc(&mut tx, &derived, now).await?;
                    freed.extend(derived);
                    // Folders before the usage row, as in a commit: the same
                    // lock order, so a delete and a commit never deadlock.
                    for (folder, _) in $crate::meta::ancestors(path).iter().rev() {
                        sqlx::query($crate::meta::sql::PRUNE_FOLDER)
                            .bind(account_id)
                            .bind(folder)
                            .execute(&mut *tx)
                            .await?;
                    }
                    $crate::meta::usage::credit_delete(&mut tx, account_id, &versions).await?;
                    commit_signalled!(self, tx, event);
                    Ok(Some(freed))
                })
                .await
            }

            async fn expired_sandbox_files(
                &self,
                cutoff: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT f.account_id, f.path FROM files f \
                     JOIN accounts a ON a.id = f.account_id \
                     JOIN file_versions v ON v.version_id = f.version_id \
                     WHERE a.sandbox = TRUE AND v.created_at < $1 LIMIT $2",
                )
                .bind(cutoff)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

impl_files!(super::PgMeta);
impl_files!(super::SqliteMeta);
