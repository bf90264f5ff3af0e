//! Account usage totals for the dashboard (read-only).

/// What an account stores.
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

/// Current files and their bytes. `CAST` because PostgreSQL's `SUM(BIGINT)` is NUMERIC.
pub(super) const CURRENT: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(v.size), 0) AS BIGINT) \
     FROM files f JOIN file_versions v ON v.version_id = f.version_id WHERE f.account_id = $1";

/// Every kept version and its bytes.
pub(super) const VERSIONS: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
     FROM file_versions WHERE account_id = $1";

#[async_trait::async_trait]
pub trait UsageStore: Send + Sync {
    /// What the account stores now (files, versions, bytes).
    async fn account_usage(&self, account_id: &str) -> crate::error::AppResult<AccountUsage>;
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
        }
    };
}

impl_usage!(super::PgMeta);
impl_usage!(super::SqliteMeta);
