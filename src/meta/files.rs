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
    /// Makes `file` the current version at its path, in one transaction: records the
    /// version, points the path at it (only if absent unless `overwrite`), clears
    /// the blob's pending-GC entry, and prunes history beyond [`MAX_VERSIONS`].
    async fn commit_file(&self, file: &FileRow, overwrite: bool) -> AppResult<CommitOutcome>;
    /// Removes the file and its history; their blobs are queued for deletion.
    /// Returns the queued blob keys (empty when there was no file).
    async fn delete_file(&self, account_id: &str, path: &str, now: i64) -> AppResult<Vec<String>>;
    /// Files of sandbox accounts whose current version is older than `cutoff`
    /// (epoch ms), as (account, path).
    async fn expired_sandbox_files(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> AppResult<Vec<(String, String)>>;
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
            ) -> $crate::error::AppResult<$crate::meta::CommitOutcome> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::meta::sql::INSERT_VERSION)
                .bind(&f.version_id)
                .bind(&f.account_id)
                .bind(&f.path)
                .bind(&f.blob_key)
                .bind(f.size)
                .bind(&f.mime)
                .bind(&f.etag)
                .bind(&f.original_file_name)
                .bind(&f.metadata)
                .bind(&f.tags)
                .bind(f.created_at)
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
                for (folder, parent) in $crate::meta::ancestors(&f.path) {
                    sqlx::query($crate::meta::sql::INSERT_IMPLICIT_FOLDER)
                    .bind(&f.account_id)
                    .bind(&folder)
                    .bind(&parent)
                    .bind(f.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                // The blob must still be pending: if the sweeper already took it
                // (an upload slower than the abandon TTL), nothing is committed.
                let claimed = sqlx::query("DELETE FROM blob_gc WHERE blob_key = $1")
                    .bind(&f.blob_key)
                    .execute(&mut *tx)
                    .await?;
                if claimed.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Err($crate::error::AppError::Unavailable {
                        cause: format!("blob {} was swept before its commit", f.blob_key),
                    });
                }
                let dropped: Vec<(String,)> = sqlx::query_as($crate::meta::sql::PRUNE_VERSIONS)
                .bind(&f.account_id)
                .bind(&f.path)
                .bind(&f.version_id)
                .bind($crate::meta::MAX_VERSIONS)
                .fetch_all(&mut *tx)
                .await?;
                let dropped: Vec<String> = dropped.into_iter().map(|(k,)| k).collect();
                for key in &dropped {
                    sqlx::query($crate::meta::sql::GC_UPSERT)
                    .bind(key)
                    .bind(f.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok($crate::meta::CommitOutcome::Committed {
                    dropped_blobs: dropped,
                })
            }

            async fn delete_file(
                &self,
                account_id: &str,
                path: &str,
                now: i64,
            ) -> $crate::error::AppResult<Vec<String>> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM files WHERE account_id = $1 AND path = $2")
                    .bind(account_id)
                    .bind(path)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(Vec::new());
                }
                let keys: Vec<(String,)> = sqlx::query_as(
                    "DELETE FROM file_versions WHERE account_id = $1 AND path = $2 \
                     RETURNING blob_key",
                )
                .bind(account_id)
                .bind(path)
                .fetch_all(&mut *tx)
                .await?;
                let keys: Vec<String> = keys.into_iter().map(|(k,)| k).collect();
                for key in &keys {
                    sqlx::query($crate::meta::sql::GC_UPSERT)
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                for (folder, _) in $crate::meta::ancestors(path).iter().rev() {
                    sqlx::query($crate::meta::sql::PRUNE_FOLDER)
                        .bind(account_id)
                        .bind(folder)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(keys)
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
