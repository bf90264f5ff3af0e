//! The upload hook of each account (SPEC §11): at most one URL and its
//! sealed secret.

use crate::error::AppResult;
use async_trait::async_trait;

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UploadHookRow {
    pub account_id: String,
    pub url: String,
    /// The `whsec_` secret, sealed (`auth::secrets`).
    pub secret_enc: String,
    pub created_at: i64,
}

#[async_trait]
pub trait UploadHookStore: Send + Sync {
    async fn get_upload_hook(&self, account_id: &str) -> AppResult<Option<UploadHookRow>>;
    /// Sets (or replaces) the account's hook.
    async fn put_upload_hook(&self, row: &UploadHookRow) -> AppResult<()>;
    /// Removes it; false when there was none.
    async fn delete_upload_hook(&self, account_id: &str) -> AppResult<bool>;
}

macro_rules! impl_upload_hooks {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::UploadHookStore for $ty {
            async fn get_upload_hook(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::UploadHookRow>> {
                Ok(
                    sqlx::query_as("SELECT * FROM upload_hooks WHERE account_id = $1")
                        .bind(account_id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn put_upload_hook(
                &self,
                row: &$crate::meta::UploadHookRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO upload_hooks (account_id, url, secret_enc, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET \
                     url = excluded.url, secret_enc = excluded.secret_enc, \
                     created_at = excluded.created_at",
                )
                .bind(&row.account_id)
                .bind(&row.url)
                .bind(&row.secret_enc)
                .bind(row.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_upload_hook(&self, account_id: &str) -> $crate::error::AppResult<bool> {
                let done = sqlx::query("DELETE FROM upload_hooks WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

impl_upload_hooks!(super::PgMeta);
impl_upload_hooks!(super::SqliteMeta);
