//! Multipart upload sessions and their parts.
//!
//! The trait is implemented for both backends from one SQL body (see `sql.rs`).

use super::*;
use crate::error::AppResult;
use async_trait::async_trait;

/// A session past its expiry, as the sweeper needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct ExpiredUpload {
    pub id: String,
    pub account_id: String,
    /// The in-place object, if its parts went straight into one.
    pub blob_key: Option<String>,
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    async fn create_upload(&self, u: &UploadSession) -> AppResult<()>;
    async fn get_upload(&self, account_id: &str, id: &str) -> AppResult<Option<UploadSession>>;
    /// Records that a part's bytes are stored in `blob_key`, only while the
    /// session is open (a retry replaces the record and un-confirms it if the
    /// bytes changed). Returns whether it was recorded and the blob it replaced.
    async fn record_part(&self, part: &UploadPart) -> AppResult<(bool, Option<String>)>;
    /// Whether part `idx` has a stored attempt on record.
    async fn has_part(&self, upload_id: &str, idx: i64) -> AppResult<bool>;
    /// Confirms a stored part whose etag matches; false otherwise.
    async fn confirm_part(&self, upload_id: &str, idx: i64, etag: &str) -> AppResult<bool>;
    async fn list_parts(&self, upload_id: &str) -> AppResult<Vec<UploadPart>>;
    /// Moves an open session whose every part is confirmed to `completing`;
    /// true for exactly one caller.
    async fn claim_upload(&self, upload_id: &str) -> AppResult<bool>;
    async fn set_upload_status(&self, upload_id: &str, status: &str) -> AppResult<()>;
    /// Moves an open session to `aborting` (AbortMultipartUpload); true for
    /// exactly one caller, false once it completes or is aborted.
    async fn abort_upload(&self, upload_id: &str) -> AppResult<bool>;
    /// Sessions past their expiry (any status but `done`).
    async fn expired_uploads(&self, now: i64, limit: i64) -> AppResult<Vec<ExpiredUpload>>;
    /// Forgets a session and its parts.
    async fn delete_upload(&self, upload_id: &str) -> AppResult<()>;
}

macro_rules! impl_uploads {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::UploadStore for $ty {
            async fn create_upload(
                &self,
                u: &$crate::meta::UploadSession,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO upload_sessions (id, account_id, status, spec, size, part_size, \
                     part_count, created_at, expires_at, blob_key, multipart_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&u.id)
                .bind(&u.account_id)
                .bind(&u.status)
                .bind(&u.spec)
                .bind(u.size)
                .bind(u.part_size)
                .bind(u.part_count)
                .bind(u.created_at)
                .bind(u.expires_at)
                .bind(&u.blob_key)
                .bind(&u.multipart_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_upload(
                &self,
                account_id: &str,
                id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::UploadSession>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM upload_sessions WHERE account_id = $1 AND id = $2",
                )
                .bind(account_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn record_part(
                &self,
                p: &$crate::meta::UploadPart,
            ) -> $crate::error::AppResult<(bool, Option<String>)> {
                // No read-then-write transaction: SQLite cannot upgrade a read
                // lock under concurrent writers (SQLITE_BUSY). A racing retry
                // can at worst leave its replaced object to the GC sweep.
                let old: Option<(String,)> = sqlx::query_as(
                    "SELECT blob_key FROM upload_parts WHERE upload_id = $1 AND idx = $2",
                )
                .bind(&p.upload_id)
                .bind(p.idx)
                .fetch_optional(&self.pool)
                .await?;
                // Two writes, no read: safe on SQLite under concurrent writers.
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "INSERT INTO upload_parts (upload_id, idx, etag, size, confirmed, blob_key, \
                     store_part) SELECT $1, $2, $3, $4, FALSE, $5, $6 WHERE EXISTS (SELECT 1 FROM \
                     upload_sessions WHERE id = $1 AND status = 'open') \
                     ON CONFLICT (upload_id, idx) DO UPDATE \
                     SET confirmed = (upload_parts.confirmed AND upload_parts.etag = excluded.etag), \
                     etag = excluded.etag, size = excluded.size, blob_key = excluded.blob_key, \
                     store_part = excluded.store_part",
                )
                .bind(&p.upload_id)
                .bind(p.idx)
                .bind(&p.etag)
                .bind(p.size)
                .bind(&p.blob_key)
                .bind(&p.store_part)
                .execute(&mut *tx)
                .await?;
                let recorded = done.rows_affected() > 0;
                // The part's bytes belong to the session now, which any node
                // may resume: no longer to the node that wrote them (#33).
                sqlx::query("UPDATE blob_gc SET node_id = NULL WHERE blob_key = $1")
                    .bind(&p.blob_key)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((recorded, if recorded { old.map(|(k,)| k) } else { None }))
            }

            async fn has_part(&self, upload_id: &str, idx: i64) -> $crate::error::AppResult<bool> {
                let found: Option<(i64,)> = sqlx::query_as(
                    "SELECT idx FROM upload_parts WHERE upload_id = $1 AND idx = $2",
                )
                .bind(upload_id)
                .bind(idx)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.is_some())
            }

            async fn confirm_part(
                &self,
                upload_id: &str,
                idx: i64,
                etag: &str,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE upload_parts SET confirmed = TRUE \
                     WHERE upload_id = $1 AND idx = $2 AND etag = $3",
                )
                .bind(upload_id)
                .bind(idx)
                .bind(etag)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_parts(
                &self,
                upload_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::UploadPart>> {
                Ok(sqlx::query_as("SELECT * FROM upload_parts WHERE upload_id = $1 ORDER BY idx")
                    .bind(upload_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn claim_upload(&self, upload_id: &str) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE upload_sessions SET status = 'completing' WHERE id = $1 \
                     AND status = 'open' AND part_count = (SELECT COUNT(*) FROM upload_parts \
                     WHERE upload_id = $1 AND confirmed = TRUE)",
                )
                .bind(upload_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn abort_upload(&self, upload_id: &str) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE upload_sessions SET status = 'aborting' WHERE id = $1 AND status = 'open'",
                )
                .bind(upload_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_upload_status(
                &self,
                upload_id: &str,
                status: &str,
            ) -> $crate::error::AppResult<()> {
                sqlx::query("UPDATE upload_sessions SET status = $2 WHERE id = $1")
                    .bind(upload_id)
                    .bind(status)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn expired_uploads(
                &self,
                now: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<$crate::meta::ExpiredUpload>> {
                Ok(sqlx::query_as(
                    "SELECT id, account_id, blob_key FROM upload_sessions WHERE expires_at <= $1 \
                     ORDER BY expires_at LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_upload(&self, upload_id: &str) -> $crate::error::AppResult<()> {
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
                        .bind(upload_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
                        .bind(upload_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                })
                .await
            }
        }
    };
}

impl_uploads!(super::PgMeta);
impl_uploads!(super::SqliteMeta);
