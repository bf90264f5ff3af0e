//! What the master key's subkeys (HKDF, `auth/keyring.rs`) need from the
//! database: when they came into use, and the signing-key secrets still sealed
//! with the master key itself, to re-seal them.

use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait KeyringStore: Send + Sync {
    /// When this deployment began using subkeys (epoch ms; set by migration 0010).
    async fn subkeys_since(&self) -> AppResult<i64>;
    /// Every signing key's sealed secret, as `(kid, secret_enc)`.
    async fn signing_key_secrets(&self) -> AppResult<Vec<(String, String)>>;
    /// Replaces a signing key's sealed secret if it is still `old`; false if it
    /// changed meanwhile (or the key is gone).
    async fn replace_signing_key_secret(&self, kid: &str, old: &str, new: &str) -> AppResult<bool>;
    /// Re-seals every signing key's secret and every webhook's secret in one
    /// transaction, all or nothing: `reseal(id, sealed)` gives the new value
    /// (None: leave it). Returns how many secrets there are.
    async fn reseal_signing_keys(&self, reseal: &Reseal) -> Result<usize, String>;
}

/// How [`KeyringStore::reseal_signing_keys`] re-seals one secret.
pub type Reseal = dyn Fn(&str, &str) -> Result<Option<String>, String> + Send + Sync;

macro_rules! impl_keyring {
    ($ty:ty, $lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::meta::KeyringStore for $ty {
            async fn subkeys_since(&self) -> $crate::error::AppResult<i64> {
                let (at,): (i64,) = sqlx::query_as(
                    "SELECT started_at FROM master_key_epochs WHERE name = 'hkdf-subkeys'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(at)
            }

            async fn signing_key_secrets(&self) -> $crate::error::AppResult<Vec<(String, String)>> {
                Ok(
                    sqlx::query_as("SELECT kid, secret_enc FROM signing_keys ORDER BY kid")
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn replace_signing_key_secret(
                &self,
                kid: &str,
                old: &str,
                new: &str,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE signing_keys SET secret_enc = $3 WHERE kid = $1 AND secret_enc = $2",
                )
                .bind(kid)
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn reseal_signing_keys(
                &self,
                reseal: &$crate::meta::keyring::Reseal,
            ) -> Result<usize, String> {
                let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
                let mut count = 0;
                // Signing keys, webhook and upload hook secrets (sealed alike).
                for (select, update) in [
                    (
                        concat!(
                            "SELECT kid, secret_enc FROM signing_keys ORDER BY kid",
                            $lock
                        ),
                        "UPDATE signing_keys SET secret_enc = $1 WHERE kid = $2",
                    ),
                    (
                        concat!(
                            "SELECT webhook_id, secret_enc FROM webhooks ORDER BY webhook_id",
                            $lock
                        ),
                        "UPDATE webhooks SET secret_enc = $1 WHERE webhook_id = $2",
                    ),
                    (
                        concat!(
                            "SELECT account_id, secret_enc FROM upload_hooks ORDER BY account_id",
                            $lock
                        ),
                        "UPDATE upload_hooks SET secret_enc = $1 WHERE account_id = $2",
                    ),
                ] {
                    let rows: Vec<(String, String)> = sqlx::query_as(select)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| e.to_string())?;
                    for (id, sealed) in &rows {
                        if let Some(resealed) = reseal(id, sealed)? {
                            sqlx::query(update)
                                .bind(resealed)
                                .bind(id)
                                .execute(&mut *tx)
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                    }
                    count += rows.len();
                }
                tx.commit().await.map_err(|e| e.to_string())?;
                Ok(count)
            }
        }
    };
}

impl_keyring!(super::PgMeta, " FOR UPDATE");
impl_keyring!(super::SqliteMeta, "");
