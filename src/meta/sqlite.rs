//! SQLite: the embedded default. WAL mode, one file, created on first start.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

pub struct SqliteMeta {
    pub(crate) pool: SqlitePool,
    /// Wakes this node's webhook delivery worker (`meta/webhooks.rs`).
    pub(crate) signal: tokio::sync::Notify,
}

impl SqliteMeta {
    pub async fn connect(url: &str) -> Result<SqliteMeta, String> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| format!("bad DATABASE_URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a commit survives a process crash (kill -9) but not
            // necessarily a power loss, which is also what the file store's
            // bytes get (object_store does not fsync). FULL fsynced every
            // commit: two per tus PATCH (docs/decisions.md).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| format!("cannot open {url}: {e}"))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| format!("migrating {url}: {e}"))?;
        Ok(SqliteMeta {
            pool,
            signal: tokio::sync::Notify::new(),
        })
    }
}

#[async_trait::async_trait]
impl super::MetaStore for SqliteMeta {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> crate::error::AppResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
