//! Node liveness (issue #33): heartbeats, and the staged blobs of nodes that
//! stopped beating. Only non-resumable staging (a binary or form upload's
//! object) names its node; resumable sessions keep their TTL.

use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait NodeStore: Send + Sync {
    /// Records that `node_id` is alive at `now`.
    async fn node_heartbeat(&self, node_id: &str, now: i64) -> AppResult<()>;
    /// Queues a blob being written by `node_id` for deletion at `due_at`,
    /// or sooner once that node is dead, unless a commit claims it first.
    async fn gc_register_staged(&self, blob_key: &str, due_at: i64, node_id: &str)
        -> AppResult<()>;
    /// Queued blobs of nodes with no heartbeat since `alive_since`.
    async fn gc_orphaned(&self, alive_since: i64, limit: i64) -> AppResult<Vec<String>>;
    /// Forgets nodes silent since before `before`.
    async fn prune_nodes(&self, before: i64) -> AppResult<u64>;
}

macro_rules! impl_nodes {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::NodeStore for $ty {
            async fn node_heartbeat(&self, node_id: &str, now: i64) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO nodes (node_id, heartbeat_at) VALUES ($1, $2) \
                     ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                )
                .bind(node_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn gc_register_staged(
                &self,
                blob_key: &str,
                due_at: i64,
                node_id: &str,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO blob_gc (blob_key, due_at, node_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (blob_key) DO UPDATE SET due_at = excluded.due_at, \
                     node_id = excluded.node_id",
                )
                .bind(blob_key)
                .bind(due_at)
                .bind(node_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn gc_orphaned(
                &self,
                alive_since: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT g.blob_key FROM blob_gc g WHERE g.node_id IS NOT NULL \
                     AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = g.node_id \
                     AND n.heartbeat_at >= $1) ORDER BY g.due_at LIMIT $2",
                )
                .bind(alive_since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(k,)| k).collect())
            }

            async fn prune_nodes(&self, before: i64) -> $crate::error::AppResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM nodes WHERE heartbeat_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM blob_gc g WHERE g.node_id = nodes.node_id)",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

impl_nodes!(super::PgMeta);
impl_nodes!(super::SqliteMeta);
