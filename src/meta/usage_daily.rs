//! Daily activity per account (SPEC §7, `GET …/usage/daily`): counted in
//! memory ([`DailyCounter`]) and flushed by adding the deltas to
//! `usage_daily` rows, so no request writes to the database for it.

use crate::error::AppResult;
use async_trait::async_trait;
use std::collections::HashMap;

/// account → day → counts; foldhash (two additions per download, SipHash
/// showed in its profile).
type Pending = HashMap<String, HashMap<i64, DailyRow, Fold>, Fold>;
type Fold = foldhash::fast::RandomState;
use std::sync::Mutex;

/// One day's counts (a delta when flushed, a total when read).
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct DailyRow {
    pub day: i64,
    pub uploads: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub transformations: i64,
    pub requests: i64,
}

/// What a counter adds to.
#[derive(Clone, Copy, Debug)]
pub enum Daily {
    Upload { bytes_in: i64 },
    BytesOut(i64),
    Transformation,
    Request,
}

/// This node's counts not yet flushed, per (account, day).
#[derive(Default)]
pub struct DailyCounter {
    /// By account, then day: a count for a known account allocates nothing
    /// (every request with an account adds one).
    pending: Mutex<Pending>,
}

impl DailyRow {
    fn count(&mut self, what: Daily) {
        match what {
            Daily::Upload { bytes_in } => {
                self.uploads += 1;
                self.bytes_in += bytes_in;
            }
            Daily::BytesOut(n) => self.bytes_out += n,
            Daily::Transformation => self.transformations += 1,
            Daily::Request => self.requests += 1,
        }
    }

    fn absorb(&mut self, r: &DailyRow) {
        self.uploads += r.uploads;
        self.bytes_in += r.bytes_in;
        self.bytes_out += r.bytes_out;
        self.transformations += r.transformations;
        self.requests += r.requests;
    }
}

/// Days since the Unix epoch of `ms`.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

impl DailyCounter {
    pub fn add(&self, account: &str, what: Daily) {
        let day = day_of(super::now_ms());
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let days = match pending.get_mut(account) {
            Some(days) => days,
            None => pending.entry(account.to_string()).or_default(),
        };
        days.entry(day)
            .or_insert_with(|| DailyRow {
                day,
                ..DailyRow::default()
            })
            .count(what);
    }

    /// Takes every pending count (to flush).
    pub fn take(&self) -> Vec<(String, DailyRow)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (account, days) in pending.drain() {
            out.extend(days.into_values().map(|row| (account.clone(), row)));
        }
        out
    }

    /// Puts counts back (a flush that failed), adding to what came since.
    pub fn restore(&self, rows: Vec<(String, DailyRow)>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for (account, r) in rows {
            let days = pending.entry(account).or_default();
            let day = r.day;
            days.entry(day)
                .or_insert_with(|| DailyRow {
                    day,
                    ..DailyRow::default()
                })
                .absorb(&r);
        }
    }
}

#[async_trait]
pub trait UsageDailyStore: Send + Sync {
    /// Adds each delta to its account's day (accounts that do not exist are
    /// skipped), in one transaction.
    async fn add_daily(&self, deltas: &[(String, DailyRow)]) -> AppResult<()>;
    /// The account's days from `from_day` on, oldest first.
    async fn daily(&self, account_id: &str, from_day: i64) -> AppResult<Vec<DailyRow>>;
}

macro_rules! impl_usage_daily {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::UsageDailyStore for $ty {
            async fn add_daily(
                &self,
                deltas: &[(String, $crate::meta::DailyRow)],
            ) -> $crate::error::AppResult<()> {
                let mut tx = self.pool.begin().await?;
                for (account, d) in deltas {
                    sqlx::query(
                        "INSERT INTO usage_daily (account_id, day, uploads, bytes_in, bytes_out, \
                         transformations, requests) \
                         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS \
                         (SELECT 1 FROM accounts WHERE id = $1) \
                         ON CONFLICT (account_id, day) DO UPDATE SET \
                         uploads = usage_daily.uploads + excluded.uploads, \
                         bytes_in = usage_daily.bytes_in + excluded.bytes_in, \
                         bytes_out = usage_daily.bytes_out + excluded.bytes_out, \
                         transformations = usage_daily.transformations + excluded.transformations, \
                         requests = usage_daily.requests + excluded.requests",
                    )
                    .bind(account)
                    .bind(d.day)
                    .bind(d.uploads)
                    .bind(d.bytes_in)
                    .bind(d.bytes_out)
                    .bind(d.transformations)
                    .bind(d.requests)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn daily(
                &self,
                account_id: &str,
                from_day: i64,
            ) -> $crate::error::AppResult<Vec<$crate::meta::DailyRow>> {
                Ok(sqlx::query_as(
                    "SELECT day, uploads, bytes_in, bytes_out, transformations, requests \
                     FROM usage_daily WHERE account_id = $1 AND day >= $2 ORDER BY day",
                )
                .bind(account_id)
                .bind(from_day)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

impl_usage_daily!(super::PgMeta);
impl_usage_daily!(super::SqliteMeta);
