//! Daily activity (SPEC §7, stowage's own): `GET …/usage/daily`. Each node
//! counts in memory (`state.daily`) and [`run`] adds its counts to the
//! database every few seconds; a read flushes this node's counts first.

use crate::auth::{Need, Principal};
use crate::error::{AppError, AppResult};
use crate::meta::{day_of, now_ms, DailyRow};
use crate::state::AppState;
use std::time::Duration;

/// How often a node adds its counts to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Adds this node's pending counts to the database (put back on failure).
pub async fn flush(state: &AppState) -> AppResult<()> {
    let pending = state.daily.take();
    if pending.is_empty() {
        return Ok(());
    }
    if let Err(e) = state.meta.add_daily(&pending).await {
        state.daily.restore(pending);
        return Err(e);
    }
    Ok(())
}

/// Flushes every [`FLUSH_EVERY`] forever.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = flush(&state).await {
            tracing::warn!(error = %e, "daily usage flush failed; kept for the next one");
        }
    }
}

/// The last `days` days (today included), oldest first, one entry per day
/// (zeros for days without activity). Needs `admin`, or `list` on `/`.
pub async fn usage_daily(
    state: &AppState,
    principal: &Principal,
    account: &str,
    days: Option<i64>,
) -> AppResult<Vec<DailyRow>> {
    if !principal.may(account, Need::admin()) {
        principal.require(account, Need::list("/"))?;
    }
    let days = days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::invalid_request(
            format!("days {days} is out of range."),
            "Use 1 to 366 days.",
        ));
    }
    flush(state).await?;
    let today = day_of(now_ms());
    let from = today - days + 1;
    let stored = state.meta.daily(account, from).await?;
    Ok((from..=today)
        .map(|day| {
            stored
                .iter()
                .find(|r| r.day == day)
                .cloned()
                .unwrap_or(DailyRow {
                    day,
                    ..DailyRow::default()
                })
        })
        .collect())
}
