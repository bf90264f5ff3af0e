//! What an account stores (SPEC §12): the `account_usage` row kept in the
//! transactions that change files, versions and blobs, the quota check that
//! goes with it, and the dashboard's totals.
//!
//! The row (`files`, `versions`, `bytes` of every kept version, `stored_bytes`
//! of its deduplicated blobs) is changed only inside the metadata
//! transactions: a commit adds with one conditional `UPDATE … WHERE files +
//! n <= max …` ([`charge_commit`]), which PostgreSQL re-evaluates on the
//! latest row after waiting for its lock and SQLite runs under its write
//! lock, so concurrent commits on any number of nodes never pass a quota
//! together; a deletion subtracts ([`credit_delete`]); `release_blobs!` and
//! the digest pass subtract the blobs they drop, [`charge_commit`] adds the
//! blob a commit creates; cached transformation results are added when
//! stored and subtracted when dropped (`images.rs`, `files.rs`). [`UsageStore::recount_usage`] rebuilds a row.

use super::FileRow;
use crate::error::{AppError, AppResult, Quota, QuotaExceeded};

/// The default `maxStorageBytes` of a sandbox account (1 GiB).
pub const SANDBOX_MAX_STORAGE_BYTES: i64 = 1024 * 1024 * 1024;
/// The default `maxFiles` of a sandbox account.
pub const SANDBOX_MAX_FILES: i64 = 10_000;

/// What an account stores (dashboard totals, scanned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUsage {
    /// Current files.
    pub files: i64,
    /// Bytes of the current versions.
    pub bytes: i64,
    /// Versions kept, the current ones included.
    pub versions: i64,
    /// Bytes of every kept version (before per-account deduplication).
    pub version_bytes: i64,
}

/// The account's `account_usage` row (SPEC §12 `GET …/usage`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    /// Current files.
    pub files: i64,
    /// Every kept version, the current ones included.
    pub versions: i64,
    /// The sum of the sizes of every kept version (what `maxStorageBytes` bounds).
    pub bytes: i64,
    /// The bytes of the account's objects, each deduplicated object once,
    /// cached transformation results included (not under `maxStorageBytes`).
    pub stored_bytes: i64,
}

/// An account's effective quotas (None: unlimited): its own, else the
/// sandbox defaults for a sandbox account.
pub fn effective_quotas(account: &super::Account) -> (Option<i64>, Option<i64>) {
    quotas(
        account.sandbox,
        account.max_files,
        account.max_storage_bytes,
    )
}

/// `(max_files, max_storage_bytes)` as [`effective_quotas`] says.
fn quotas(sandbox: bool, files: Option<i64>, bytes: Option<i64>) -> (Option<i64>, Option<i64>) {
    let default = |v: i64| sandbox.then_some(v);
    (
        files.or_else(|| default(SANDBOX_MAX_FILES)),
        bytes.or_else(|| default(SANDBOX_MAX_STORAGE_BYTES)),
    )
}

/// Current files and their bytes. `CAST` because PostgreSQL's `SUM(BIGINT)` is NUMERIC.
pub(super) const CURRENT: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(v.size), 0) AS BIGINT) \
     FROM files f JOIN file_versions v ON v.version_id = f.version_id WHERE f.account_id = $1";

/// Every kept version and its bytes.
pub(super) const VERSIONS: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
     FROM file_versions WHERE account_id = $1";

/// The row as counted from the tables (`$1` the account).
const RECOUNT: &str = "SELECT \
     (SELECT COUNT(*) FROM files f WHERE f.account_id = $1) AS files, \
     (SELECT COUNT(*) FROM file_versions v WHERE v.account_id = $1) AS versions, \
     (SELECT CAST(COALESCE(SUM(v.size), 0) AS BIGINT) FROM file_versions v \
       WHERE v.account_id = $1) AS bytes, \
     (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b \
       WHERE b.account_id = $1) \
     + (SELECT CAST(COALESCE(SUM(d.size), 0) AS BIGINT) FROM derived d \
       WHERE d.account_id = $1) AS stored_bytes";

/// Writes a recounted row (`$1` the account, `$2`…`$5` the counts).
const UPSERT: &str =
    "INSERT INTO account_usage (account_id, files, versions, bytes, stored_bytes) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET files = excluded.files, \
     versions = excluded.versions, bytes = excluded.bytes, stored_bytes = excluded.stored_bytes";

/// Adds `$2`…`$5` to the row of `$1` unless that takes `files` past the
/// account's quota or `bytes` past its own (a quota only stops what grows):
/// the account's `max_files`/`max_storage_bytes`, else for a sandbox account
/// `$6`/`$7`, else none. The quotas are read in the same statement (one
/// statement per commit instead of two; PostgreSQL evaluates the account's
/// subqueries once, and re-checks the sums on the latest row after waiting
/// for its lock).
const CHARGE: &str = "UPDATE account_usage SET files = files + $2, versions = versions + $3, \
     bytes = bytes + $4, stored_bytes = stored_bytes + $5 WHERE account_id = $1 \
     AND ($2 <= 0 OR files + $2 <= COALESCE((SELECT COALESCE(a.max_files, \
       CASE WHEN a.sandbox THEN $6 END) FROM accounts a WHERE a.id = $1), files + $2)) \
     AND ($4 <= 0 OR bytes + $4 <= COALESCE((SELECT COALESCE(a.max_storage_bytes, \
       CASE WHEN a.sandbox THEN $7 END) FROM accounts a WHERE a.id = $1), bytes + $4)) \
     RETURNING files";

/// Subtracts `$2` from the stored bytes of account `$1` (blobs dropped).
pub(super) const UNSTORE: &str =
    "UPDATE account_usage SET stored_bytes = stored_bytes - $2 WHERE account_id = $1";

/// What a transaction changes in an account's row.
#[derive(Clone, Copy, Debug, Default)]
struct Delta {
    files: i64,
    versions: i64,
    bytes: i64,
    stored: i64,
}

#[async_trait::async_trait]
pub trait UsageStore: Send + Sync {
    /// What the account stores now (files, versions, bytes), scanned (dashboard).
    async fn account_usage(&self, account_id: &str) -> AppResult<AccountUsage>;
    /// The account's usage row (None: no such row).
    async fn usage_row(&self, account_id: &str) -> AppResult<Option<UsageRow>>;
    /// Recounts the account's row from its files, versions and blobs, and
    /// writes it; returns it.
    async fn recount_usage(&self, account_id: &str) -> AppResult<UsageRow>;
    /// Overwrites the account's row (tests, repairs).
    async fn set_usage_row(&self, account_id: &str, row: UsageRow) -> AppResult<()>;
}

/// In a commit's transaction, after its version is recorded, the path points
/// at it and history is pruned: charges the account for the commit (a new
/// file unless the path had one, the version less the pruned ones, the
/// blob it created) and refuses with 413 `quota_exceeded` what would pass a
/// quota (the caller's transaction is then dropped, so rolled back).
pub(super) async fn charge_commit<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    f: &FileRow,
    claim: super::BlobClaim,
    pruned: &[(String, String, i64)],
) -> AppResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (i64, i64): sqlx::FromRow<'r, DB::Row>,
    for<'r> (bool, Option<i64>, Option<i64>): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'r> UsageRow: sqlx::FromRow<'r, DB::Row>,
{
    // Other versions left at the path (pruning keeps at least one when the
    // file existed); whether this commit created the blob row it names.
    let (older, fresh): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM file_versions WHERE account_id = $1 AND path = $2 \
         AND version_id <> $3), (SELECT COUNT(*) FROM blobs WHERE blob_key = $4)",
    )
    .bind(f.account_id.clone())
    .bind(f.path.clone())
    .bind(f.version_id.clone())
    .bind(f.blob_key.clone())
    .fetch_one(&mut **tx)
    .await?;
    let delta = Delta {
        files: i64::from(older == 0),
        versions: 1 - pruned.len() as i64,
        bytes: f.size - pruned.iter().map(|p| p.2).sum::<i64>(),
        stored: if claim == super::BlobClaim::Staged && fresh > 0 {
            f.size
        } else {
            0
        },
    };
    charge(tx, &f.account_id, delta).await
}

/// In a file deletion's transaction: the file and its removed versions
/// (`(blob_key, version_id, size)`) leave the account's row.
pub(super) async fn credit_delete<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    account_id: &str,
    versions: &[(String, String, i64)],
) -> AppResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (bool, Option<i64>, Option<i64>): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'r> UsageRow: sqlx::FromRow<'r, DB::Row>,
{
    let delta = Delta {
        files: -1,
        versions: -(versions.len() as i64),
        bytes: -versions.iter().map(|v| v.2).sum::<i64>(),
        stored: 0,
    };
    charge(tx, account_id, delta).await
}

/// Applies `d` to the account's row within its quotas; a missing row (an
/// account made before migration 0013 without one) is recounted instead,
/// which counts this transaction's own changes.
async fn charge<DB>(tx: &mut sqlx::Transaction<'_, DB>, account_id: &str, d: Delta) -> AppResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (bool, Option<i64>, Option<i64>): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'r> UsageRow: sqlx::FromRow<'r, DB::Row>,
{
    let done: Option<(i64,)> = sqlx::query_as(CHARGE)
        .bind(account_id.to_string())
        .bind(d.files)
        .bind(d.versions)
        .bind(d.bytes)
        .bind(d.stored)
        .bind(SANDBOX_MAX_FILES)
        .bind(SANDBOX_MAX_STORAGE_BYTES)
        .fetch_optional(&mut **tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    // Refused, or no row: which quota, or a recount.
    let account: Option<(bool, Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT sandbox, max_files, max_storage_bytes FROM accounts WHERE id = $1")
            .bind(account_id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    let (max_files, max_bytes) = account.map_or((None, None), |(s, f, b)| quotas(s, f, b));
    let row: Option<UsageRow> = sqlx::query_as(
        "SELECT files, versions, bytes, stored_bytes FROM account_usage WHERE account_id = $1",
    )
    .bind(account_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        let counted: UsageRow = sqlx::query_as(RECOUNT)
            .bind(account_id.to_string())
            .fetch_one(&mut **tx)
            .await?;
        write_row(tx, account_id, counted).await?;
        return Ok(());
    };
    Err(exceeded(row, d, max_files, max_bytes))
}

/// The error of a refused charge: the files quota if that one is passed.
fn exceeded(row: UsageRow, d: Delta, max_files: Option<i64>, max_bytes: Option<i64>) -> AppError {
    AppError::QuotaExceeded(match max_files {
        Some(limit) if d.files > 0 && row.files + d.files > limit => QuotaExceeded {
            quota: Quota::Files,
            limit,
            used: row.files,
            adding: Some(d.files),
        },
        _ => QuotaExceeded {
            quota: Quota::StorageBytes,
            limit: max_bytes.unwrap_or(0),
            used: row.bytes,
            adding: Some(d.bytes),
        },
    })
}

async fn write_row<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    account_id: &str,
    row: UsageRow,
) -> AppResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(UPSERT)
        .bind(account_id.to_string())
        .bind(row.files)
        .bind(row.versions)
        .bind(row.bytes)
        .bind(row.stored_bytes)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

macro_rules! impl_usage {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::UsageStore for $ty {
            async fn account_usage(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<AccountUsage> {
                let (files, bytes): (i64, i64) = sqlx::query_as(CURRENT)
                    .bind(account_id)
                    .fetch_one(&self.pool)
                    .await?;
                let (versions, version_bytes): (i64, i64) = sqlx::query_as(VERSIONS)
                    .bind(account_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(AccountUsage {
                    files,
                    bytes,
                    versions,
                    version_bytes,
                })
            }

            async fn usage_row(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Option<UsageRow>> {
                Ok(sqlx::query_as(
                    "SELECT files, versions, bytes, stored_bytes FROM account_usage \
                     WHERE account_id = $1",
                )
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn recount_usage(&self, account_id: &str) -> $crate::error::AppResult<UsageRow> {
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    // Take the row's lock first (PostgreSQL), so no commit
                    // changes it between the count and the write.
                    sqlx::query("UPDATE account_usage SET files = files WHERE account_id = $1")
                        .bind(account_id)
                        .execute(&mut *tx)
                        .await?;
                    let row: UsageRow = sqlx::query_as(RECOUNT)
                        .bind(account_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    write_row(&mut tx, account_id, row).await?;
                    tx.commit().await?;
                    Ok(row)
                })
                .await
            }

            async fn set_usage_row(
                &self,
                account_id: &str,
                row: UsageRow,
            ) -> $crate::error::AppResult<()> {
                let mut tx = self.pool.begin().await?;
                write_row(&mut tx, account_id, row).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

impl_usage!(super::PgMeta);
impl_usage!(super::SqliteMeta);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_accounts_have_default_quotas() {
        assert_eq!(quotas(false, None, None), (None, None));
        assert_eq!(
            quotas(true, None, None),
            (Some(SANDBOX_MAX_FILES), Some(SANDBOX_MAX_STORAGE_BYTES))
        );
        assert_eq!(quotas(true, Some(5), None).0, Some(5));
    }

    #[test]
    fn refusals_name_the_quota_passed() {
        let row = UsageRow {
            files: 3,
            versions: 3,
            bytes: 90,
            stored_bytes: 90,
        };
        let new_file = Delta {
            files: 1,
            versions: 1,
            bytes: 20,
            stored: 20,
        };
        let e = exceeded(row, new_file, Some(3), Some(1000));
        assert!(matches!(e, AppError::QuotaExceeded(q) if q.quota == Quota::Files && q.limit == 3));
        let e = exceeded(row, new_file, Some(10), Some(100));
        assert!(
            matches!(e, AppError::QuotaExceeded(q) if q.quota == Quota::StorageBytes && q.used == 90)
        );
    }
}
