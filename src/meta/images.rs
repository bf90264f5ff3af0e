//! Image transformations: cached results (`derived`) and presets.
//!
//! A cached result is registered in the transaction that claims its blob's GC
//! entry, and dropped (its blob queued) with its source version in
//! `files.rs` (`DROP_DERIVED`). Both add or subtract its size in the
//! account's `account_usage.stored_bytes`. The trait is implemented for both backends
//! from one SQL body (see `sql.rs`).

use crate::error::AppResult;
use async_trait::async_trait;

/// A cached transformation result.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct DerivedRow {
    pub blob_key: String,
    pub account_id: String,
    /// The image the result was rendered from.
    pub source_version_id: String,
    /// The `.crop` file it was cropped by, if any.
    pub crop_version_id: Option<String>,
    /// The normalised parameters (`Params::cache_key`).
    pub cache_key: String,
    pub size: i64,
    pub mime: String,
    /// Lower-case hex SHA-256 of the result.
    pub etag: String,
    pub created_at: i64,
}

/// What probing a source version found: its format and size, or why it is
/// not a readable image (`error`, then `format` is None).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ProbeRow {
    pub version_id: String,
    /// The format's extension (`jpg`, `png`, …).
    pub format: Option<String>,
    pub width: i64,
    pub height: i64,
    pub error: Option<String>,
    pub created_at: i64,
}

/// A named parameter set.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct PresetRow {
    pub account_id: String,
    pub name: String,
    pub params: String,
    pub created_at: i64,
}

#[async_trait]
pub trait ImageStore: Send + Sync {
    async fn get_derived(
        &self,
        source_version_id: &str,
        cache_key: &str,
    ) -> AppResult<Option<DerivedRow>>;
    /// Registers a result whose blob is pending in the GC queue, claiming it
    /// in the same transaction. False (nothing changed; the caller deletes
    /// the blob) when the same result is already cached, a source version is
    /// no longer current, or the blob was already swept.
    async fn put_derived(&self, row: &DerivedRow) -> AppResult<bool>;
    /// Every cached result of an account (tests and operators).
    async fn list_derived(&self, account_id: &str) -> AppResult<Vec<DerivedRow>>;
    /// The remembered probe of a source version, if any.
    async fn get_image_probe(&self, version_id: &str) -> AppResult<Option<ProbeRow>>;
    /// Remembers a probe. Nothing happens when the version is already
    /// probed or no longer exists (the row would go with it anyway).
    async fn put_image_probe(&self, row: &ProbeRow) -> AppResult<()>;
    /// Creates or replaces a preset; returns the stored row.
    async fn put_preset(&self, row: &PresetRow) -> AppResult<PresetRow>;
    async fn get_preset(&self, account_id: &str, name: &str) -> AppResult<Option<PresetRow>>;
    async fn list_presets(&self, account_id: &str) -> AppResult<Vec<PresetRow>>;
    /// False when there was no such preset.
    async fn delete_preset(&self, account_id: &str, name: &str) -> AppResult<bool>;
}

/// Whether a commit failed on a (deferred) foreign key: the source version
/// was deleted while the result was being stored.
pub(super) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| matches!(&*c, "23503" | "787" | "19")),
        _ => false,
    }
}

const DERIVED_COLUMNS: &str = "blob_key, account_id, source_version_id, crop_version_id, \
     cache_key, size, mime, etag, created_at";

macro_rules! impl_images {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::ImageStore for $ty {
            async fn get_derived(
                &self,
                source_version_id: &str,
                cache_key: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::DerivedRow>> {
                let q = format!(
                    "SELECT {DERIVED_COLUMNS} FROM derived \
                     WHERE source_version_id = $1 AND cache_key = $2"
                );
                Ok(sqlx::query_as(&q)
                    .bind(source_version_id)
                    .bind(cache_key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_derived(
                &self,
                r: &$crate::meta::DerivedRow,
            ) -> $crate::error::AppResult<bool> {
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    let q = format!(
                        "INSERT INTO derived ({DERIVED_COLUMNS}) \
                         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                         WHERE EXISTS (SELECT 1 FROM files WHERE version_id = $3) \
                         AND ($4 IS NULL OR EXISTS (SELECT 1 FROM files WHERE version_id = $4)) \
                         ON CONFLICT (source_version_id, cache_key) DO NOTHING"
                    );
                    let done = sqlx::query(&q)
                        .bind(&r.blob_key)
                        .bind(&r.account_id)
                        .bind(&r.source_version_id)
                        .bind(&r.crop_version_id)
                        .bind(&r.cache_key)
                        .bind(r.size)
                        .bind(&r.mime)
                        .bind(&r.etag)
                        .bind(r.created_at)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() != 1 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    let claimed = sqlx::query("DELETE FROM blob_gc WHERE blob_key = $1")
                        .bind(&r.blob_key)
                        .execute(&mut *tx)
                        .await?;
                    if claimed.rows_affected() != 1 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    // At most MAX_DERIVED_PER_SOURCE results per source: the
                    // oldest go (a sweep over ?w=1…8192 cannot grow the store).
                    let evicted: Vec<(String, i64)> = sqlx::query_as(
                        "SELECT blob_key, size FROM derived WHERE source_version_id = $1 \
                         ORDER BY created_at DESC, blob_key DESC LIMIT 1000000 OFFSET $2",
                    )
                    .bind(&r.source_version_id)
                    .bind($crate::meta::MAX_DERIVED_PER_SOURCE)
                    .fetch_all(&mut *tx)
                    .await?;
                    // The account stores the result, less what it evicts
                    // (issue #28; not under `maxStorageBytes`: docs/quotas.md).
                    let evicted_bytes: i64 = evicted.iter().map(|(_, size)| size).sum();
                    sqlx::query($crate::meta::usage::UNSTORE)
                        .bind(&r.account_id)
                        .bind(evicted_bytes - r.size)
                        .execute(&mut *tx)
                        .await?;
                    for (key, _) in &evicted {
                        sqlx::query("DELETE FROM derived WHERE blob_key = $1")
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                        // Due in a minute: in-memory caches let go first.
                        sqlx::query($crate::meta::sql::GC_UPSERT)
                            .bind(key)
                            .bind(r.created_at + 60_000)
                            .execute(&mut *tx)
                            .await?;
                    }
                    match tx.commit().await {
                        Ok(()) => Ok(true),
                        Err(e) if is_foreign_key_violation(&e) => Ok(false),
                        Err(e) => Err(e.into()),
                    }
                })
                .await
            }

            async fn list_derived(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::DerivedRow>> {
                let q = format!(
                    "SELECT {DERIVED_COLUMNS} FROM derived WHERE account_id = $1 \
                     ORDER BY blob_key"
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn get_image_probe(
                &self,
                version_id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::ProbeRow>> {
                Ok(sqlx::query_as(
                    "SELECT version_id, format, width, height, error, created_at \
                     FROM image_probes WHERE version_id = $1",
                )
                .bind(version_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn put_image_probe(
                &self,
                r: &$crate::meta::ProbeRow,
            ) -> $crate::error::AppResult<()> {
                let done = sqlx::query(
                    "INSERT INTO image_probes \
                     (version_id, format, width, height, error, created_at) \
                     SELECT $1, $2, $3, $4, $5, $6 \
                     WHERE EXISTS (SELECT 1 FROM file_versions WHERE version_id = $1) \
                     ON CONFLICT (version_id) DO NOTHING",
                )
                .bind(&r.version_id)
                .bind(&r.format)
                .bind(r.width)
                .bind(r.height)
                .bind(&r.error)
                .bind(r.created_at)
                .execute(&self.pool)
                .await;
                match done {
                    Ok(_) => Ok(()),
                    // The version was deleted meanwhile.
                    Err(e) if is_foreign_key_violation(&e) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }

            async fn put_preset(
                &self,
                r: &$crate::meta::PresetRow,
            ) -> $crate::error::AppResult<$crate::meta::PresetRow> {
                Ok(sqlx::query_as(
                    "INSERT INTO presets (account_id, name, params, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, name) \
                     DO UPDATE SET params = excluded.params \
                     RETURNING account_id, name, params, created_at",
                )
                .bind(&r.account_id)
                .bind(&r.name)
                .bind(&r.params)
                .bind(r.created_at)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn get_preset(
                &self,
                account_id: &str,
                name: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::PresetRow>> {
                Ok(sqlx::query_as(
                    "SELECT account_id, name, params, created_at FROM presets \
                     WHERE account_id = $1 AND name = $2",
                )
                .bind(account_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list_presets(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::PresetRow>> {
                Ok(sqlx::query_as(
                    "SELECT account_id, name, params, created_at FROM presets \
                     WHERE account_id = $1 ORDER BY name",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_preset(
                &self,
                account_id: &str,
                name: &str,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query("DELETE FROM presets WHERE account_id = $1 AND name = $2")
                    .bind(account_id)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

impl_images!(super::PgMeta);
impl_images!(super::SqliteMeta);
