//! Accounts and their keys: API keys, JWT verification keys, signing keys.
//!
//! The trait is implemented for both backends from one SQL body (see `sql.rs`).

use super::*;
use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_account(&self, account: &Account) -> AppResult<()>;
    async fn get_account(&self, id: &str) -> AppResult<Option<Account>>;
    async fn list_accounts(&self) -> AppResult<Vec<Account>>;
    /// Sets an account's limits and quotas (None: the default); false when
    /// there is no such account.
    async fn set_account_limits(&self, id: &str, limits: &AccountLimits) -> AppResult<bool>;
    async fn insert_api_key(&self, key: &ApiKeyRow) -> AppResult<()>;
    /// The key with this SHA-256 hash, revoked or not.
    async fn find_api_key(&self, key_hash: &str) -> AppResult<Option<ApiKeyRow>>;
    async fn list_api_keys(&self, account_id: &str) -> AppResult<Vec<ApiKeyRow>>;
    /// Records a use of the key at `now` unless one at or after `stale_before`
    /// is already recorded.
    async fn touch_api_key(&self, key_id: &str, now: i64, stale_before: i64) -> AppResult<()>;
    /// Marks the key revoked; false when the account has no such live key.
    async fn revoke_api_key(&self, account_id: &str, key_id: &str, now: i64) -> AppResult<bool>;
    async fn insert_jwt_key(&self, key: &JwtKeyRow) -> AppResult<()>;
    async fn list_jwt_keys(&self, account_id: &str) -> AppResult<Vec<JwtKeyRow>>;
    /// False when the account has no such key.
    async fn delete_jwt_key(&self, account_id: &str, kid: &str) -> AppResult<bool>;
    async fn insert_signing_key(&self, k: &SigningKeyRow) -> AppResult<()>;
    async fn get_signing_key(&self, kid: &str) -> AppResult<Option<SigningKeyRow>>;
    async fn list_signing_keys(&self, account_id: &str) -> AppResult<Vec<SigningKeyRow>>;
    async fn delete_signing_key(&self, account_id: &str, kid: &str) -> AppResult<bool>;
}

macro_rules! impl_accounts {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::AccountStore for $ty {
            async fn create_account(
                &self,
                a: &$crate::meta::Account,
            ) -> $crate::error::AppResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO accounts (id, sandbox, max_file_size, allowed_mime, created_at, \
                     max_storage_bytes, max_files) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&a.id)
                .bind(a.sandbox)
                .bind(a.max_file_size)
                .bind(&a.allowed_mime)
                .bind(a.created_at)
                .bind(a.max_storage_bytes)
                .bind(a.max_files)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO account_usage (account_id) VALUES ($1)")
                    .bind(&a.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_account(
                &self,
                id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::Account>> {
                Ok(sqlx::query_as("SELECT * FROM accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_accounts(
                &self,
            ) -> $crate::error::AppResult<Vec<$crate::meta::Account>> {
                Ok(sqlx::query_as("SELECT * FROM accounts ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn set_account_limits(
                &self,
                id: &str,
                l: &$crate::meta::AccountLimits,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE accounts SET max_file_size = $2, allowed_mime = $3, \
                     max_storage_bytes = $4, max_files = $5 WHERE id = $1",
                )
                .bind(id)
                .bind(l.max_file_size)
                .bind(&l.allowed_mime)
                .bind(l.max_storage_bytes)
                .bind(l.max_files)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_api_key(
                &self,
                k: &$crate::meta::ApiKeyRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, account_id, key_hash, key_type, name, display, \
                     rules, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&k.id)
                .bind(&k.account_id)
                .bind(&k.key_hash)
                .bind(&k.key_type)
                .bind(&k.name)
                .bind(&k.display)
                .bind(&k.rules)
                .bind(k.created_at)
                .bind(k.revoked_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_api_key(
                &self,
                key_hash: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::ApiKeyRow>> {
                Ok(sqlx::query_as("SELECT * FROM api_keys WHERE key_hash = $1")
                    .bind(key_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_api_keys(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::ApiKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL \
                     ORDER BY created_at, id",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn touch_api_key(
                &self,
                key_id: &str,
                now: i64,
                stale_before: i64,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 \
                     WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
                )
                .bind(now)
                .bind(key_id)
                .bind(stale_before)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn revoke_api_key(
                &self,
                account_id: &str,
                key_id: &str,
                now: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 \
                     WHERE account_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(account_id)
                .bind(key_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_jwt_key(
                &self,
                k: &$crate::meta::JwtKeyRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO jwt_keys (kid, account_id, alg, name, pem, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.kid)
                .bind(&k.account_id)
                .bind(&k.alg)
                .bind(&k.name)
                .bind(&k.pem)
                .bind(k.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_jwt_keys(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::JwtKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM jwt_keys WHERE account_id = $1 ORDER BY created_at, kid",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_jwt_key(
                &self,
                account_id: &str,
                kid: &str,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query("DELETE FROM jwt_keys WHERE account_id = $1 AND kid = $2")
                    .bind(account_id)
                    .bind(kid)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_signing_key(
                &self,
                k: &$crate::meta::SigningKeyRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, account_id, name, secret_enc, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&k.kid)
                .bind(&k.account_id)
                .bind(&k.name)
                .bind(&k.secret_enc)
                .bind(k.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_signing_key(
                &self,
                kid: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::SigningKeyRow>> {
                Ok(sqlx::query_as("SELECT * FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_signing_keys(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::SigningKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM signing_keys WHERE account_id = $1 ORDER BY created_at, kid",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_signing_key(
                &self,
                account_id: &str,
                kid: &str,
            ) -> $crate::error::AppResult<bool> {
                let done =
                    sqlx::query("DELETE FROM signing_keys WHERE account_id = $1 AND kid = $2")
                        .bind(account_id)
                        .bind(kid)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

impl_accounts!(super::PgMeta);
impl_accounts!(super::SqliteMeta);
