//! Blob reference counts (per-account deduplication, SPEC §5) and the
//! background digest pass's queries.
//!
//! `blobs` has one row per stored object a file version uses, with `refs` =
//! how many `file_versions` rows name it. Every change to `file_versions`
//! changes `refs` in the same transaction ([`claim_blob!`], [`release_blobs!`]),
//! and an object whose count reaches zero is queued in `blob_gc` (due now) in
//! that transaction too: a crash can neither lose bytes still referenced nor
//! leak bytes nothing references (the sweeper deletes what is queued).
//! Dropping a blob row subtracts its size from `account_usage.stored_bytes`
//! in that transaction too (the commit that creates one adds it: `usage.rs`).

use crate::error::AppResult;
use async_trait::async_trait;

/// How a commit takes hold of its blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobClaim {
    /// Freshly streamed bytes under a GC-registered key: the commit claims the
    /// GC entry, and when the account already holds the same SHA-256 it uses
    /// that object instead and queues the fresh one for deletion.
    Staged,
    /// An object another version already uses (a copy): one more reference.
    Shared,
}

/// The result of recording a blob's digest.
#[derive(Debug, PartialEq)]
pub enum DigestOutcome {
    /// The blob keeps its bytes and now has a known SHA-256.
    Recorded,
    /// The account already held these bytes: the blob's versions now use that
    /// object, and this one is queued for deletion.
    Merged,
    /// The blob is no longer referenced (deleted meanwhile).
    Gone,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Blobs whose SHA-256 is not known yet, as (blob_key, size).
    async fn unhashed_blobs(&self, limit: i64) -> AppResult<Vec<(String, i64)>>;
    /// How many blobs await the digest pass.
    async fn unhashed_count(&self) -> AppResult<i64>;
    /// Records `sha256` for `blob_key` and its versions, merging it into an
    /// existing blob of the account with the same digest (queued for deletion
    /// at `gc_at`).
    async fn record_digest(
        &self,
        blob_key: &str,
        sha256: &str,
        gc_at: i64,
    ) -> AppResult<DigestOutcome>;
    /// (objects, bytes, references) the account's files use, for audits.
    async fn blob_usage(&self, account_id: &str) -> AppResult<(i64, i64, i64)>;
}

/// In transaction `$tx`, makes `$f` (a FileRow about to be inserted) hold its
/// blob as `$claim` says; evaluates to `(blob_key to record, Option<fresh key
/// now redundant>)`. Fails when a staged blob was swept or a shared one is gone.
macro_rules! claim_blob {
    ($tx:expr, $f:expr, $claim:expr) => {{
        let f: &$crate::meta::FileRow = $f;
        match $claim {
            $crate::meta::BlobClaim::Shared => {
                let done = sqlx::query("UPDATE blobs SET refs = refs + 1 WHERE blob_key = $1")
                    .bind(&f.blob_key)
                    .execute(&mut *$tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Err($crate::error::AppError::FileNotFound {
                        path: "the copy's source".into(),
                    });
                }
                (f.blob_key.clone(), None)
            }
            $crate::meta::BlobClaim::Staged => {
                // The blob must still be pending: if the sweeper already took it
                // (an upload slower than the abandon TTL), nothing is committed.
                let claimed = sqlx::query("DELETE FROM blob_gc WHERE blob_key = $1")
                    .bind(&f.blob_key)
                    .execute(&mut *$tx)
                    .await?;
                if claimed.rows_affected() != 1 {
                    return Err($crate::error::AppError::Unavailable {
                        cause: format!("blob {} was swept before its commit", f.blob_key),
                    });
                }
                let (key,): (String,) = sqlx::query_as(
                    "INSERT INTO blobs (blob_key, account_id, sha256, size, refs) \
                     VALUES ($1, $2, $3, $4, 1) ON CONFLICT (account_id, sha256) \
                     DO UPDATE SET refs = blobs.refs + 1 RETURNING blob_key",
                )
                .bind(&f.blob_key)
                .bind(&f.account_id)
                .bind(&f.sha256)
                .bind(f.size)
                .fetch_one(&mut *$tx)
                .await?;
                if key == f.blob_key {
                    (key, None)
                } else {
                    sqlx::query($crate::meta::sql::GC_UPSERT)
                        .bind(&f.blob_key)
                        .bind(f.created_at)
                        .execute(&mut *$tx)
                        .await?;
                    (key, Some(f.blob_key.clone()))
                }
            }
        }
    }};
}

/// In transaction `$tx`, drops one reference per entry of `$keys` (blob keys of
/// removed versions, repeated when several used one blob); evaluates to the
/// keys left unreferenced, which are queued in `blob_gc` due at `$now`.
macro_rules! release_blobs {
    ($tx:expr, $keys:expr, $now:expr) => {{
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for k in $keys {
            *counts.entry(k.clone()).or_default() += 1;
        }
        let mut freed: Vec<String> = Vec::new();
        // Bytes of the blob rows dropped, per account (`account_usage.stored_bytes`).
        let mut unstored: std::collections::BTreeMap<String, i64> = Default::default();
        for (key, n) in counts {
            let left: Option<(i64, i64, String)> = sqlx::query_as(
                "UPDATE blobs SET refs = refs - $2 WHERE blob_key = $1 \
                 RETURNING refs, size, account_id",
            )
            .bind(&key)
            .bind(n)
            .fetch_optional(&mut *$tx)
            .await?;
            let unreferenced = match left {
                Some((refs, _, _)) if refs > 0 => false,
                Some((_, size, account)) => {
                    sqlx::query("DELETE FROM blobs WHERE blob_key = $1")
                        .bind(&key)
                        .execute(&mut *$tx)
                        .await?;
                    *unstored.entry(account).or_default() += size;
                    true
                }
                // No count (should not happen after migration 0006): free it
                // only if no version still names it.
                None => sqlx::query_as::<_, (i64,)>(
                    "SELECT CAST(1 AS BIGINT) FROM file_versions WHERE blob_key = $1 LIMIT 1",
                )
                .bind(&key)
                .fetch_optional(&mut *$tx)
                .await?
                .is_none(),
            };
            if unreferenced {
                sqlx::query($crate::meta::sql::GC_UPSERT)
                    .bind(&key)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
                freed.push(key);
            }
        }
        for (account, bytes) in unstored {
            sqlx::query($crate::meta::usage::UNSTORE)
                .bind(&account)
                .bind(bytes)
                .execute(&mut *$tx)
                .await?;
        }
        freed
    }};
}

macro_rules! impl_blobs {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::BlobStore for $ty {
            async fn unhashed_blobs(
                &self,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT blob_key, size FROM blobs WHERE sha256 IS NULL ORDER BY blob_key LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn unhashed_count(&self) -> $crate::error::AppResult<i64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs WHERE sha256 IS NULL")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n)
            }

            async fn record_digest(
                &self,
                blob_key: &str,
                sha256: &str,
                gc_at: i64,
            ) -> $crate::error::AppResult<$crate::meta::DigestOutcome> {
                $crate::meta::contended(|| async {
                    use $crate::meta::DigestOutcome;
                    let mut tx = self.pool.begin().await?;
                    let row: Option<(String, i64, i64)> = sqlx::query_as(
                        "SELECT account_id, refs, size FROM blobs WHERE blob_key = $1",
                    )
                    .bind(blob_key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((account, refs, size)) = row else {
                        return Ok(DigestOutcome::Gone);
                    };
                    sqlx::query("UPDATE file_versions SET sha256 = $2 WHERE blob_key = $1")
                        .bind(blob_key)
                        .bind(sha256)
                        .execute(&mut *tx)
                        .await?;
                    let twin: Option<(String,)> = sqlx::query_as(
                        "SELECT blob_key FROM blobs WHERE account_id = $1 AND sha256 = $2",
                    )
                    .bind(&account)
                    .bind(sha256)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let outcome = match twin {
                        Some((twin,)) if twin != blob_key => {
                            sqlx::query("UPDATE file_versions SET blob_key = $2 WHERE blob_key = $1")
                                .bind(blob_key)
                                .bind(&twin)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("UPDATE blobs SET refs = refs + $2 WHERE blob_key = $1")
                                .bind(&twin)
                                .bind(refs)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("DELETE FROM blobs WHERE blob_key = $1")
                                .bind(blob_key)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query($crate::meta::sql::GC_UPSERT)
                                .bind(blob_key)
                                .bind(gc_at)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query($crate::meta::usage::UNSTORE)
                                .bind(&account)
                                .bind(size)
                                .execute(&mut *tx)
                                .await?;
                            DigestOutcome::Merged
                        }
                        _ => {
                            sqlx::query("UPDATE blobs SET sha256 = $2 WHERE blob_key = $1")
                                .bind(blob_key)
                                .bind(sha256)
                                .execute(&mut *tx)
                                .await?;
                            DigestOutcome::Recorded
                        }
                    };
                    tx.commit().await?;
                    Ok(outcome)
                })
                .await
            }

            async fn blob_usage(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<(i64, i64, i64)> {
                Ok(sqlx::query_as(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT), \
                     CAST(COALESCE(SUM(refs), 0) AS BIGINT) FROM blobs WHERE account_id = $1",
                )
                .bind(account_id)
                .fetch_one(&self.pool)
                .await?)
            }
        }
    };
}

impl_blobs!(super::PgMeta);
impl_blobs!(super::SqliteMeta);
