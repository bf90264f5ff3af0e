//! Webhooks and their outbox (SPEC §11).
//!
//! An event is written in the transaction of the change it reports, by the
//! macros below (used by `files.rs` and `folders.rs`): one `events` row and
//! one pending `deliveries` row per webhook of the account that wants it.
//! An account without such a webhook costs one indexed lookup and nothing
//! else. After such a transaction commits, [`WebhookStore::events_signal`]
//! wakes this node's delivery worker; other nodes find the rows by polling.
//!
//! A delivery attempt is made by the node that leased it
//! ([`WebhookStore::lease_delivery`]: a conditional UPDATE, which both
//! backends apply to one row at a time, so two nodes never both win).

use super::FileRow;
use crate::error::AppResult;
use async_trait::async_trait;
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct WebhookRow {
    pub webhook_id: String,
    pub account_id: String,
    pub url: String,
    /// JSON array of event types, or `["*"]`.
    pub events: String,
    pub description: String,
    /// The `whsec_` secret, sealed (`auth::secrets`).
    pub secret_enc: String,
    pub created_at: i64,
}

/// A pending delivery that is due, with what sending it needs.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct DueDelivery {
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_id: String,
    /// Attempts made so far.
    pub attempts: i64,
    pub event_type: String,
    /// JSON object (the body's `data`, without `fileUrl`).
    pub data: String,
    pub event_created_at: i64,
    pub account_id: String,
    pub url: String,
    pub secret_enc: String,
}

/// One attempt, as `GET …/webhooks/{id}/deliveries` lists it.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i64,
    pub event_id: String,
    #[sqlx(rename = "type")]
    pub event_type: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    /// `delivered`, `retrying` or `failed`.
    pub outcome: String,
    pub at: i64,
}

/// What an attempt came to, recorded by [`WebhookStore::record_attempt`].
#[derive(Clone, Debug)]
pub struct AttemptResult {
    pub delivery: DueDelivery,
    /// The node that leased it.
    pub owner: String,
    /// `delivered`, `retrying` or `failed`.
    pub outcome: &'static str,
    /// When the next attempt is due (`retrying`).
    pub next_attempt_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub at: i64,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(&self, row: &WebhookRow) -> AppResult<()>;
    async fn list_webhooks(&self, account_id: &str) -> AppResult<Vec<WebhookRow>>;
    async fn get_webhook(
        &self,
        account_id: &str,
        webhook_id: &str,
    ) -> AppResult<Option<WebhookRow>>;
    /// Removes the webhook and its deliveries; false if there was none.
    async fn delete_webhook(&self, account_id: &str, webhook_id: &str) -> AppResult<bool>;
    /// Records an event for one webhook only (`webhook.test`); returns its id.
    async fn enqueue_for(
        &self,
        webhook: &WebhookRow,
        event_type: &str,
        data: &str,
        now: i64,
    ) -> AppResult<String>;
    /// Leases up to `limit` deliveries due at `now` that no node holds,
    /// oldest first, for `owner` (one claim's own token) until `until`, and
    /// returns what sending them needs: one conditional UPDATE for the whole
    /// batch (PostgreSQL skips rows another node is claiming) and one SELECT.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        until: i64,
        limit: i64,
    ) -> AppResult<Vec<DueDelivery>>;
    /// Records attempts and releases their leases, in one transaction;
    /// returns, in order, whether each one's owner still held its lease.
    async fn record_attempts(&self, results: &[AttemptResult]) -> AppResult<Vec<bool>>;
    /// The latest attempts of a webhook, newest first.
    async fn list_attempts(
        &self,
        account_id: &str,
        webhook_id: &str,
        limit: i64,
    ) -> AppResult<Vec<AttemptRow>>;
    /// Removes finished deliveries (and their attempts) last changed before
    /// `cutoff`, and the events left without deliveries; returns how many
    /// deliveries went.
    async fn prune_deliveries(&self, cutoff: i64) -> AppResult<u64>;
    /// Pending deliveries, and when the oldest one's event happened.
    async fn delivery_backlog(&self) -> AppResult<(i64, Option<i64>)>;
    /// Notified when this node commits an event.
    fn events_signal(&self) -> &tokio::sync::Notify;
}

/// `prefix_` + a time-ordered UUID.
pub(super) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// The ids of the webhooks (`(id, events JSON)`) that want `kind`.
pub(super) fn wanting(hooks: Vec<(String, String)>, kind: &str) -> Vec<String> {
    hooks
        .into_iter()
        .filter(|(_, events)| {
            serde_json::from_str::<Vec<String>>(events)
                .is_ok_and(|list| list.iter().any(|e| e == kind || e == "*"))
        })
        .map(|(id, _)| id)
        .collect()
}

/// A file event's `data` (SPEC §11), but `fileUrl` (added when it is sent).
pub(super) fn file_data(f: &FileRow) -> String {
    let parse = |s: &str, empty: Value| serde_json::from_str::<Value>(s).unwrap_or(empty);
    json!({
        "accountId": f.account_id,
        "filePath": f.path,
        "etag": f.etag,
        "size": f.size,
        "mime": f.mime,
        "versionId": f.version_id,
        "originalFileName": f.original_file_name,
        "metadata": parse(&f.metadata, json!({})),
        "tags": parse(&f.tags, json!([])),
    })
    .to_string()
}

/// A `folder.updated` event's `data`.
pub(super) fn folder_data(account: &str, path: &str, settings: Option<&str>) -> String {
    json!({
        "accountId": account,
        "folderPath": path,
        "publicPermissions": public_permissions(settings),
    })
    .to_string()
}

/// The `publicPermissions` of a folder's settings JSON (null when unset).
pub(super) fn public_permissions(settings: Option<&str>) -> Value {
    settings
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v.get("publicPermissions").cloned())
        .unwrap_or(Value::Null)
}

pub(super) const INSERT_EVENT: &str = "INSERT INTO events (event_id, account_id, type, data, \
     created_at) VALUES ($1, $2, $3, $4, $5)";

pub(super) const INSERT_DELIVERY: &str = "INSERT INTO deliveries (delivery_id, webhook_id, \
     event_id, status, attempts, next_attempt_at, updated_at) \
     VALUES ($1, $2, $3, 'pending', 0, $4, $4)";

/// In transaction `$tx`: the ids of `$account`'s webhooks that want `$kind`.
macro_rules! webhooks_for {
    ($tx:expr, $account:expr, $kind:expr) => {{
        let hooks: Vec<(String, String)> =
            sqlx::query_as("SELECT webhook_id, events FROM webhooks WHERE account_id = $1")
                .bind($account)
                .fetch_all(&mut *$tx)
                .await?;
        $crate::meta::webhooks::wanting(hooks, $kind)
    }};
}

/// In transaction `$tx`: event `$kind` with `$data` (JSON text) and a pending
/// delivery for each of `$hooks`; evaluates to the event's id if any was written.
macro_rules! insert_event {
    ($tx:expr, $hooks:expr, $account:expr, $kind:expr, $data:expr, $now:expr) => {{
        let hooks: &[String] = $hooks;
        let mut written: Option<String> = None;
        if !hooks.is_empty() {
            let event_id = $crate::meta::webhooks::new_id("evt");
            sqlx::query($crate::meta::webhooks::INSERT_EVENT)
                .bind(&event_id)
                .bind($account)
                .bind($kind)
                .bind($data)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            for hook in hooks {
                sqlx::query($crate::meta::webhooks::INSERT_DELIVERY)
                    .bind($crate::meta::webhooks::new_id("dlv"))
                    .bind(hook)
                    .bind(&event_id)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
            }
            written = Some(event_id);
        }
        written
    }};
}

/// In transaction `$tx`: `file.created` for the version `$f` just committed.
macro_rules! created_event {
    ($tx:expr, $f:expr) => {{
        let f: &$crate::meta::FileRow = $f;
        let hooks = webhooks_for!($tx, &f.account_id, "file.created");
        // The data is made inside insert_event!, only when a webhook wants it
        // (17k instructions per upload without one, docs/performance.md).
        insert_event!(
            $tx,
            &hooks,
            &f.account_id,
            "file.created",
            $crate::meta::webhooks::file_data(f),
            f.created_at
        )
        .is_some()
    }};
}

/// In transaction `$tx`: `file.deleted` for the file whose current version
/// was `$version_id` (read before its rows go).
macro_rules! deleted_event {
    ($tx:expr, $account:expr, $version_id:expr, $now:expr) => {{
        let hooks = webhooks_for!($tx, $account, "file.deleted");
        if hooks.is_empty() {
            false
        } else {
            let q = format!(
                "SELECT {} FROM file_versions v WHERE v.version_id = $1",
                $crate::meta::sql::FILE_COLUMNS
            );
            let f: $crate::meta::FileRow = sqlx::query_as(&q)
                .bind($version_id)
                .fetch_one(&mut *$tx)
                .await?;
            let data = $crate::meta::webhooks::file_data(&f);
            insert_event!($tx, &hooks, $account, "file.deleted", data, $now).is_some()
        }
    }};
}

/// In transaction `$tx`: a write that changes nothing, so that the
/// transaction writes before it reads (SQLite cannot turn a read transaction
/// into a write one once another connection committed meanwhile:
/// SQLITE_BUSY_SNAPSHOT, which its busy timeout does not wait out).
macro_rules! write_first {
    ($tx:expr, $account:expr, $path:expr) => {
        sqlx::query("UPDATE folders SET explicit = explicit WHERE account_id = $1 AND path = $2")
            .bind($account)
            .bind($path)
            .execute(&mut *$tx)
            .await?
    };
}

/// In transaction `$tx`, before folder `$path`'s settings become `$new`:
/// `folder.updated` if its `publicPermissions` change.
macro_rules! folder_event {
    ($tx:expr, $account:expr, $path:expr, $new:expr, $now:expr) => {{
        write_first!($tx, $account, $path);
        let hooks = webhooks_for!($tx, $account, "folder.updated");
        if hooks.is_empty() {
            false
        } else {
            let old: Option<(String,)> =
                sqlx::query_as("SELECT settings FROM folders WHERE account_id = $1 AND path = $2")
                    .bind($account)
                    .bind($path)
                    .fetch_optional(&mut *$tx)
                    .await?;
            let new: Option<&str> = $new;
            let before =
                $crate::meta::webhooks::public_permissions(old.as_ref().map(|o| o.0.as_str()));
            if before == $crate::meta::webhooks::public_permissions(new) {
                false
            } else {
                let data = $crate::meta::webhooks::folder_data($account, $path, new);
                insert_event!($tx, &hooks, $account, "folder.updated", data, $now).is_some()
            }
        }
    }};
}

/// Commits `$tx`, then wakes the delivery worker if `$any` event was written.
macro_rules! commit_signalled {
    ($self:expr, $tx:expr, $any:expr) => {{
        $tx.commit().await?;
        if $any {
            $self.signal.notify_one();
        }
    }};
}

/// In transaction `$tx`, before the settings of folder `$path` (and with
/// `$recursive` those below it) are cleared: `folder.updated` for each one
/// whose `publicPermissions` go.
macro_rules! cleared_events {
    ($tx:expr, $account:expr, $path:expr, $recursive:expr, $now:expr) => {{
        write_first!($tx, $account, $path);
        let hooks = webhooks_for!($tx, $account, "folder.updated");
        let mut any = false;
        if !hooks.is_empty() {
            let (lo, hi) = $crate::meta::subtree_range($path);
            let below = if $recursive { "(path >= $3 AND path < $4)" } else { "($3 <> $4 AND FALSE)" };
            let q = format!(
                "SELECT path, settings FROM folders WHERE account_id = $1 AND (path = $2 OR {below})"
            );
            let rows: Vec<(String, String)> = sqlx::query_as(&q)
                .bind($account)
                .bind($path)
                .bind(&lo)
                .bind(&hi)
                .fetch_all(&mut *$tx)
                .await?;
            for (folder, settings) in rows {
                if !$crate::meta::webhooks::public_permissions(Some(&settings)).is_null() {
                    let data = $crate::meta::webhooks::folder_data($account, &folder, None);
                    any |= insert_event!($tx, &hooks, $account, "folder.updated", data, $now).is_some();
                }
            }
        }
        any
    }};
}

/// Leases (`$1` owner, `$2` now, `$3` until) the `$4` oldest due deliveries
/// no node holds; `$lock` is PostgreSQL's `FOR UPDATE SKIP LOCKED`.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE deliveries SET lease_owner = $1, lease_until = $3 WHERE delivery_id IN \
             (SELECT delivery_id FROM deliveries WHERE status = 'pending' \
             AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
             ORDER BY next_attempt_at, delivery_id LIMIT $4",
            $lock,
            ") AND status = 'pending' AND (lease_until IS NULL OR lease_until < $2)"
        )
    };
}

/// What sending the deliveries claimed by `$1` needs (`$2`: now).
const CLAIMED: &str = "SELECT d.delivery_id, d.webhook_id, d.event_id, d.attempts, \
     e.type AS event_type, e.data, e.created_at AS event_created_at, e.account_id, w.url, \
     w.secret_enc FROM deliveries d JOIN events e ON e.event_id = d.event_id \
     JOIN webhooks w ON w.webhook_id = d.webhook_id \
     WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND d.lease_owner = $1 \
     ORDER BY d.next_attempt_at, d.delivery_id";

const FINISH: &str = "UPDATE deliveries SET attempts = attempts + 1, status = $3, \
     next_attempt_at = $4, last_status = $5, last_error = $6, lease_owner = NULL, \
     lease_until = NULL, updated_at = $7 WHERE delivery_id = $1 AND lease_owner = $2 \
     RETURNING attempts";

const INSERT_ATTEMPT: &str = "INSERT INTO delivery_attempts (delivery_id, attempt, webhook_id, \
     event_id, type, status_code, error, outcome, at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// In transaction `$tx`: attempt `$r` of a leased delivery and its lease
/// released; false (nothing written) if its owner no longer held it.
macro_rules! record_one {
    ($tx:expr, $r:expr) => {{
        let r: &$crate::meta::AttemptResult = $r;
        let status = match r.outcome {
            "retrying" => "pending",
            other => other,
        };
        let d = &r.delivery;
        let attempt: Option<(i64,)> = sqlx::query_as($crate::meta::webhooks::FINISH)
            .bind(&d.delivery_id)
            .bind(&r.owner)
            .bind(status)
            .bind(r.next_attempt_at)
            .bind(r.status_code)
            .bind(&r.error)
            .bind(r.at)
            .fetch_optional(&mut *$tx)
            .await?;
        if let Some((attempt,)) = attempt {
            sqlx::query($crate::meta::webhooks::INSERT_ATTEMPT)
                .bind(&d.delivery_id)
                .bind(attempt)
                .bind(&d.webhook_id)
                .bind(&d.event_id)
                .bind(&d.event_type)
                .bind(r.status_code)
                .bind(&r.error)
                .bind(r.outcome)
                .bind(r.at)
                .execute(&mut *$tx)
                .await?;
        }
        attempt.is_some()
    }};
}

macro_rules! impl_webhooks {
    ($ty:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl $crate::meta::WebhookStore for $ty {
            async fn insert_webhook(
                &self,
                w: &$crate::meta::WebhookRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO webhooks (webhook_id, account_id, url, events, description, \
                     secret_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&w.webhook_id)
                .bind(&w.account_id)
                .bind(&w.url)
                .bind(&w.events)
                .bind(&w.description)
                .bind(&w.secret_enc)
                .bind(w.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_webhooks(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::WebhookRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM webhooks WHERE account_id = $1 ORDER BY created_at, webhook_id",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn get_webhook(
                &self,
                account_id: &str,
                webhook_id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::WebhookRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM webhooks WHERE account_id = $1 AND webhook_id = $2",
                )
                .bind(account_id)
                .bind(webhook_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn delete_webhook(
                &self,
                account_id: &str,
                webhook_id: &str,
            ) -> $crate::error::AppResult<bool> {
                let done =
                    sqlx::query("DELETE FROM webhooks WHERE account_id = $1 AND webhook_id = $2")
                        .bind(account_id)
                        .bind(webhook_id)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn enqueue_for(
                &self,
                w: &$crate::meta::WebhookRow,
                event_type: &str,
                data: &str,
                now: i64,
            ) -> $crate::error::AppResult<String> {
                let mut tx = self.pool.begin().await?;
                let hooks = [w.webhook_id.clone()];
                let id = insert_event!(tx, &hooks, &w.account_id, event_type, data, now);
                commit_signalled!(self, tx, true);
                Ok(id.unwrap_or_default())
            }

            async fn claim_deliveries(
                &self,
                owner: &str,
                now: i64,
                until: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<$crate::meta::DueDelivery>> {
                let claimed = sqlx::query(claim_sql!($lock))
                    .bind(owner)
                    .bind(now)
                    .bind(until)
                    .bind(limit)
                    .execute(&self.pool)
                    .await?;
                if claimed.rows_affected() == 0 {
                    return Ok(Vec::new());
                }
                Ok(sqlx::query_as($crate::meta::webhooks::CLAIMED)
                    .bind(owner)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn record_attempts(
                &self,
                results: &[$crate::meta::AttemptResult],
            ) -> $crate::error::AppResult<Vec<bool>> {
                let mut held = Vec::with_capacity(results.len());
                let mut tx = self.pool.begin().await?;
                for r in results {
                    held.push(record_one!(tx, r));
                }
                tx.commit().await?;
                Ok(held)
            }

            async fn list_attempts(
                &self,
                account_id: &str,
                webhook_id: &str,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<$crate::meta::AttemptRow>> {
                Ok(sqlx::query_as(
                    "SELECT a.delivery_id, a.attempt, a.event_id, a.type, a.status_code, a.error, \
                     a.outcome, a.at FROM delivery_attempts a \
                     JOIN webhooks w ON w.webhook_id = a.webhook_id \
                     WHERE w.account_id = $1 AND a.webhook_id = $2 \
                     ORDER BY a.at DESC, a.delivery_id DESC, a.attempt DESC LIMIT $3",
                )
                .bind(account_id)
                .bind(webhook_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn prune_deliveries(&self, cutoff: i64) -> $crate::error::AppResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM deliveries WHERE status <> 'pending' AND updated_at < $1",
                )
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
                sqlx::query(
                    "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM deliveries d WHERE d.event_id = events.event_id)",
                )
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn delivery_backlog(&self) -> $crate::error::AppResult<(i64, Option<i64>)> {
                Ok(sqlx::query_as(
                    "SELECT COUNT(*), MIN(e.created_at) FROM deliveries d \
                     JOIN events e ON e.event_id = d.event_id WHERE d.status = 'pending'",
                )
                .fetch_one(&self.pool)
                .await?)
            }

            fn events_signal(&self) -> &tokio::sync::Notify {
                &self.signal
            }
        }
    };
}

impl_webhooks!(super::PgMeta, " FOR UPDATE SKIP LOCKED");
impl_webhooks!(super::SqliteMeta, "");
