//! tus uploads (SPEC §5.6): one row each, continued by any node. A PATCH takes
//! a lease on the row (conditioned on the offset it starts from), streams, and
//! moves the offset in the same UPDATE that releases the lease.
//!
//! The trait is implemented for both backends from one SQL body (see `sql.rs`).

use crate::error::AppResult;
use async_trait::async_trait;

/// A tus upload's row.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct TusUpload {
    pub id: String,
    pub account_id: String,
    /// [`crate::auth::Principal::owner`] of the creator.
    pub owner: String,
    /// `open` or `done`.
    pub status: String,
    /// JSON: the file it will become (path, fallback, mime, names, metadata, tags).
    pub spec: String,
    pub upload_length: i64,
    pub upload_offset: i64,
    /// The final object (registered for GC at creation).
    pub blob_key: String,
    /// The store's multipart upload id (object stores with native multipart).
    pub multipart_id: Option<String>,
    /// JSON array of the store's part ids, in order.
    pub parts: String,
    /// Bytes after the last part, kept as a small object until the next PATCH.
    pub tail_key: Option<String>,
    pub tail_size: i64,
    /// The resumable SHA-256 of bytes `0..upload_offset`.
    pub hash_state: String,
    pub lock_token: Option<String>,
    pub lock_until: i64,
    /// The stored file's path, once done.
    pub file_path: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What a PATCH leaves behind.
#[derive(Clone, Debug)]
pub struct TusProgress {
    pub offset: i64,
    pub parts: String,
    pub tail_key: Option<String>,
    pub tail_size: i64,
    pub hash_state: String,
}

#[async_trait]
pub trait TusStore: Send + Sync {
    async fn create_tus(&self, u: &TusUpload) -> AppResult<()>;
    async fn get_tus(&self, account_id: &str, id: &str) -> AppResult<Option<TusUpload>>;
    /// Takes the lease of an open upload at `offset` whose lease is free (or
    /// lapsed at `now`); false if the offset moved, the upload is done, or
    /// another PATCH holds it.
    async fn lock_tus(
        &self,
        id: &str,
        offset: i64,
        token: &str,
        now: i64,
        until: i64,
    ) -> AppResult<bool>;
    /// Extends a lease still held with `token`.
    async fn renew_tus_lock(&self, id: &str, token: &str, until: i64) -> AppResult<bool>;
    /// Records a PATCH's progress and releases the lease, if still held.
    async fn save_tus_progress(&self, id: &str, token: &str, p: &TusProgress) -> AppResult<bool>;
    /// Records progress made durable in the middle of a PATCH (a checkpoint),
    /// keeping the lease; false if the lease is no longer held with `token`.
    async fn checkpoint_tus(&self, id: &str, token: &str, p: &TusProgress) -> AppResult<bool>;
    /// Releases a lease without changing anything else.
    async fn unlock_tus(&self, id: &str, token: &str) -> AppResult<()>;
    /// Marks the upload done (its file committed at `file_path`), lease released.
    async fn finish_tus(&self, id: &str, token: &str, file_path: &str) -> AppResult<()>;
    /// Deletes an open upload whose lease is free at `now`; false otherwise.
    async fn delete_tus_unlocked(&self, id: &str, now: i64) -> AppResult<bool>;
    async fn delete_tus(&self, id: &str) -> AppResult<()>;
    /// Uploads past their expiry (open or done).
    async fn expired_tus(&self, now: i64, limit: i64) -> AppResult<Vec<TusUpload>>;
}

macro_rules! impl_tus {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::TusStore for $ty {
            async fn create_tus(&self, u: &$crate::meta::TusUpload) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO tus_uploads (id, account_id, owner, status, spec, upload_length, \
                     upload_offset, blob_key, multipart_id, parts, tail_key, tail_size, hash_state, \
                     lock_token, lock_until, file_path, created_at, expires_at) VALUES ($1, $2, $3, \
                     $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                )
                .bind(&u.id)
                .bind(&u.account_id)
                .bind(&u.owner)
                .bind(&u.status)
                .bind(&u.spec)
                .bind(u.upload_length)
                .bind(u.upload_offset)
                .bind(&u.blob_key)
                .bind(&u.multipart_id)
                .bind(&u.parts)
                .bind(&u.tail_key)
                .bind(u.tail_size)
                .bind(&u.hash_state)
                .bind(&u.lock_token)
                .bind(u.lock_until)
                .bind(&u.file_path)
                .bind(u.created_at)
                .bind(u.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_tus(
                &self,
                account_id: &str,
                id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::TusUpload>> {
                Ok(
                    sqlx::query_as("SELECT * FROM tus_uploads WHERE account_id = $1 AND id = $2")
                        .bind(account_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn lock_tus(
                &self,
                id: &str,
                offset: i64,
                token: &str,
                now: i64,
                until: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE tus_uploads SET lock_token = $3, lock_until = $5 WHERE id = $1 \
                     AND upload_offset = $2 AND status = 'open' AND lock_until <= $4",
                )
                .bind(id)
                .bind(offset)
                .bind(token)
                .bind(now)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn renew_tus_lock(
                &self,
                id: &str,
                token: &str,
                until: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE tus_uploads SET lock_until = $3 WHERE id = $1 AND lock_token = $2",
                )
                .bind(id)
                .bind(token)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn save_tus_progress(
                &self,
                id: &str,
                token: &str,
                p: &$crate::meta::TusProgress,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE tus_uploads SET upload_offset = $3, parts = $4, tail_key = $5, \
                     tail_size = $6, hash_state = $7, lock_token = NULL, lock_until = 0 \
                     WHERE id = $1 AND lock_token = $2",
                )
                .bind(id)
                .bind(token)
                .bind(p.offset)
                .bind(&p.parts)
                .bind(&p.tail_key)
                .bind(p.tail_size)
                .bind(&p.hash_state)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn checkpoint_tus(
                &self,
                id: &str,
                token: &str,
                p: &$crate::meta::TusProgress,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE tus_uploads SET upload_offset = $3, parts = $4, tail_key = $5, \
                     tail_size = $6, hash_state = $7 WHERE id = $1 AND lock_token = $2 \
                     AND status = 'open' AND upload_offset <= $3",
                )
                .bind(id)
                .bind(token)
                .bind(p.offset)
                .bind(&p.parts)
                .bind(&p.tail_key)
                .bind(p.tail_size)
                .bind(&p.hash_state)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn unlock_tus(&self, id: &str, token: &str) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "UPDATE tus_uploads SET lock_token = NULL, lock_until = 0 \
                     WHERE id = $1 AND lock_token = $2",
                )
                .bind(id)
                .bind(token)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn finish_tus(
                &self,
                id: &str,
                token: &str,
                file_path: &str,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "UPDATE tus_uploads SET status = 'done', upload_offset = upload_length, \
                     file_path = $3, parts = '[]', tail_key = NULL, tail_size = 0, \
                     lock_token = NULL, lock_until = 0 WHERE id = $1 AND lock_token = $2",
                )
                .bind(id)
                .bind(token)
                .bind(file_path)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_tus_unlocked(
                &self,
                id: &str,
                now: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "DELETE FROM tus_uploads WHERE id = $1 AND status = 'open' AND lock_until <= $2",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_tus(&self, id: &str) -> $crate::error::AppResult<()> {
                sqlx::query("DELETE FROM tus_uploads WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn expired_tus(
                &self,
                now: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<$crate::meta::TusUpload>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM tus_uploads WHERE expires_at <= $1 AND lock_until <= $1 \
                     ORDER BY expires_at LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

impl_tus!(super::PgMeta);
impl_tus!(super::SqliteMeta);
