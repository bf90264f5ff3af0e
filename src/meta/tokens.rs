//! Single-use tokens (upload tokens, used client tokens) and the blob GC queue.
//!
//! The trait is implemented for both backends from one SQL body (see `sql.rs`).

use super::*;
use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_upload_token(&self, t: &UploadTokenRow) -> AppResult<()>;
    async fn get_upload_token(&self, token_hash: &str) -> AppResult<Option<UploadTokenRow>>;
    /// Marks the token used, atomically: exactly one caller gets `Spent`.
    async fn spend_upload_token(&self, token_hash: &str, now: i64) -> AppResult<Spend>;
    /// Forgets tokens that expired before `before`.
    async fn prune_upload_tokens(&self, before: i64) -> AppResult<u64>;
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
    /// Records the store-side multipart upload writing `blob_key`.
    async fn gc_upload_started(&self, blob_key: &str, upload_id: &str, now: i64) -> AppResult<()>;
    /// Forgets it (completed or aborted).
    async fn gc_upload_finished(&self, blob_key: &str) -> AppResult<()>;
    /// The store-side multipart upload recorded for `blob_key`, if any.
    async fn gc_upload_of(&self, blob_key: &str) -> AppResult<Option<String>>;
}

macro_rules! impl_tokens {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::TokenStore for $ty {
            async fn insert_upload_token(
                &self,
                t: &$crate::meta::UploadTokenRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO upload_tokens (token_hash, account_id, path, max_size, mime, \
                     created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&t.token_hash)
                .bind(&t.account_id)
                .bind(&t.path)
                .bind(t.max_size)
                .bind(&t.mime)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.used_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_upload_token(
                &self,
                token_hash: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::UploadTokenRow>> {
                Ok(sqlx::query_as("SELECT * FROM upload_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn spend_upload_token(
                &self,
                token_hash: &str,
                now: i64,
            ) -> $crate::error::AppResult<$crate::meta::Spend> {
                let spent: Option<$crate::meta::UploadTokenRow> = sqlx::query_as(
                    "UPDATE upload_tokens SET used_at = $2 WHERE token_hash = $1 \
                     AND used_at IS NULL AND expires_at > $2 RETURNING *",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(row) = spent {
                    return Ok($crate::meta::Spend::Spent(row));
                }
                let row: Option<$crate::meta::UploadTokenRow> =
                    sqlx::query_as("SELECT * FROM upload_tokens WHERE token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(match row {
                    None => $crate::meta::Spend::Unknown,
                    Some(r) if r.used_at.is_some() => $crate::meta::Spend::AlreadyUsed,
                    Some(_) => $crate::meta::Spend::Expired,
                })
            }

            async fn prune_upload_tokens(&self, before: i64) -> $crate::error::AppResult<u64> {
                let done = sqlx::query("DELETE FROM upload_tokens WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn use_token_once(
                &self,
                token_hash: &str,
                expires_at: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO used_tokens (token_hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (token_hash) DO NOTHING",
                )
                .bind(token_hash)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn prune_used_tokens(&self, before: i64) -> $crate::error::AppResult<u64> {
                let done = sqlx::query("DELETE FROM used_tokens WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn gc_register(
                &self,
                blob_key: &str,
                due_at: i64,
            ) -> $crate::error::AppResult<()> {
                sqlx::query($crate::meta::sql::GC_UPSERT)
                .bind(blob_key)
                .bind(due_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn gc_due(
                &self,
                now: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT blob_key FROM blob_gc WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(k,)| k).collect())
            }

            async fn gc_remove(&self, blob_key: &str) -> $crate::error::AppResult<()> {
                sqlx::query("DELETE FROM blob_gc WHERE blob_key = $1")
                    .bind(blob_key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn gc_upload_started(
                &self,
                blob_key: &str,
                upload_id: &str,
                now: i64,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO blob_gc_uploads (blob_key, upload_id, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (blob_key) DO UPDATE SET \
                     upload_id = excluded.upload_id, created_at = excluded.created_at",
                )
                .bind(blob_key)
                .bind(upload_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn gc_upload_finished(&self, blob_key: &str) -> $crate::error::AppResult<()> {
                sqlx::query("DELETE FROM blob_gc_uploads WHERE blob_key = $1")
                    .bind(blob_key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn gc_upload_of(
                &self,
                blob_key: &str,
            ) -> $crate::error::AppResult<Option<String>> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT upload_id FROM blob_gc_uploads WHERE blob_key = $1")
                        .bind(blob_key)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(id,)| id))
            }
        }
    };
}

impl_tokens!(super::PgMeta);
impl_tokens!(super::SqliteMeta);
