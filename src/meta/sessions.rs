//! Dashboard sessions ended by sign-out (SPEC §10): kept until the session
//! would have expired, so every node refuses the old cookie.

use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records that session `session_id` (valid until `expires_at`, epoch ms)
    /// was ended; ending it again changes nothing. Forgets ended sessions that
    /// expired before `now`.
    async fn end_session(&self, session_id: &str, expires_at: i64, now: i64) -> AppResult<()>;
    /// Whether session `session_id` was ended.
    async fn session_ended(&self, session_id: &str) -> AppResult<bool>;
}

macro_rules! impl_sessions {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::SessionStore for $ty {
            async fn end_session(
                &self,
                session_id: &str,
                expires_at: i64,
                now: i64,
            ) -> $crate::error::AppResult<()> {
                sqlx::query("DELETE FROM dashboard_sessions_ended WHERE expires_at < $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                sqlx::query(
                    "INSERT INTO dashboard_sessions_ended (session_id, expires_at) \
                     VALUES ($1, $2) ON CONFLICT (session_id) DO NOTHING",
                )
                .bind(session_id)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_ended(&self, session_id: &str) -> $crate::error::AppResult<bool> {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT expires_at FROM dashboard_sessions_ended WHERE session_id = $1",
                )
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.is_some())
            }
        }
    };
}

impl_sessions!(super::PgMeta);
impl_sessions!(super::SqliteMeta);
