//! Account usage totals for the dashboard (read-only). Kept in its own file so
//! it can move with the per-area split of `sql.rs`; `impl_meta_store!` pulls the
//! method in with one line.

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

/// The `account_usage` method of `MetaStore`, for a type with a `pool` field.
macro_rules! account_usage_fn {
    () => {
        fn account_usage<'a>(
            &'a self,
            account_id: &'a str,
        ) -> futures::future::BoxFuture<
            'a,
            $crate::error::AppResult<$crate::meta::usage::AccountUsage>,
        > {
            Box::pin(async move {
                let (files, bytes): (i64, i64) = sqlx::query_as($crate::meta::usage::CURRENT)
                    .bind(account_id)
                    .fetch_one(&self.pool)
                    .await?;
                let (versions, version_bytes): (i64, i64) =
                    sqlx::query_as($crate::meta::usage::VERSIONS)
                        .bind(account_id)
                        .fetch_one(&self.pool)
                        .await?;
                Ok($crate::meta::usage::AccountUsage {
                    files,
                    bytes,
                    versions,
                    version_bytes,
                })
            })
        }
    };
}

pub(super) use account_usage_fn;
