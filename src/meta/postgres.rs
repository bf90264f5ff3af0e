//! PostgreSQL: the production store, shared by every node of a deployment.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgMeta {
    pub(crate) pool: PgPool,
    /// Wakes this node's webhook delivery worker (`meta/webhooks.rs`).
    pub(crate) signal: tokio::sync::Notify,
}

impl PgMeta {
    /// Connects and migrates. `schema`, when given, becomes the connection's
    /// `search_path` (tests use a fresh schema per run).
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PgMeta, String> {
        let mut opts =
            PgConnectOptions::from_str(url).map_err(|e| format!("bad DATABASE_URL: {e}"))?;
        if let Some(schema) = schema {
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(opts)
            .await
            .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| format!("migrating PostgreSQL: {e}"))?;
        Ok(PgMeta {
            pool,
            signal: tokio::sync::Notify::new(),
        })
    }
}

#[async_trait::async_trait]
impl super::MetaStore for PgMeta {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> crate::error::AppResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
