//! The delivery worker (SPEC §11): every node runs one. It polls for due
//! deliveries (and wakes at once when this node commits an event), leases
//! them in one claim per batch before sending them so that one node makes
//! each attempt, signs each as
//! Standard Webhooks 1.0 says, and records what came of it: delivered (a 2xx
//! within [`TIMEOUT`]), retried after `STOWAGE_WEBHOOK_RETRY_BASE` × 6ⁿ
//! seconds, or failed after [`RETRIES`] retries, the attempts finished
//! meanwhile recorded together in one transaction. Finished deliveries are
//! kept [`RETENTION`] for the deliveries log, then pruned.

use crate::auth::secrets;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, AttemptResult, DueDelivery};
use crate::state::AppState;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::task::JoinSet;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Retries after the first attempt, before a delivery is marked failed.
pub const RETRIES: i64 = 6;
/// How long delivered and failed deliveries are kept (7 days).
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a node holds a delivery it is attempting (more than [`TIMEOUT`]).
const LEASE_MS: i64 = 30_000;
/// How often the worker looks for due deliveries when not woken.
const POLL: Duration = Duration::from_millis(500);
/// Deliveries attempted at once by one node.
const CONCURRENCY: usize = 16;
/// How often finished deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, where key is the
/// base64-decoded part of `secret` after `whsec_` (Standard Webhooks 1.0).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> AppResult<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| AppError::internal("a webhook secret is not base64"))?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(AppError::internal)?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

/// The body sent for a delivery: the same bytes on every attempt.
pub fn body(state: &AppState, d: &DueDelivery) -> String {
    let mut data: Value = serde_json::from_str(&d.data).unwrap_or_else(|_| json!({}));
    if d.event_type.starts_with("file.") {
        let path = data["filePath"].as_str().unwrap_or_default().to_string();
        data["fileUrl"] = json!(crate::domain::paths::file_url(
            &state.public_url,
            &d.account_id,
            &path
        ));
    }
    let timestamp = chrono::DateTime::from_timestamp_millis(d.event_created_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({"type": d.event_type, "timestamp": timestamp, "data": data}).to_string()
}

/// Seconds before the retry that follows attempt `attempts` (1-based).
fn retry_delay(base: f64, attempts: i64) -> Duration {
    let exp = i32::try_from(attempts - 1).unwrap_or(i32::MAX).clamp(0, 16);
    Duration::from_secs_f64((base * 6f64.powi(exp)).min(30.0 * 86_400.0))
}

/// Makes one attempt of a delivery leased by `owner`; what came of it, to
/// be recorded with others finished meanwhile ([`record`]).
async fn attempt(state: &AppState, owner: String, d: DueDelivery) -> AppResult<AttemptResult> {
    let secret = secrets::open(state.master_key(), &d.secret_enc)?;
    let payload = body(state, &d);
    let ts = chrono::Utc::now().timestamp();
    let headers = [
        ("webhook-id", d.event_id.clone()),
        ("webhook-timestamp", ts.to_string()),
        (
            "webhook-signature",
            sign(&secret, &d.event_id, ts, &payload)?,
        ),
    ];
    let sent = state
        .outbound
        .deliver(&d.url, &headers, payload, TIMEOUT)
        .await;
    let done = d.attempts + 1;
    let (status_code, error, ok) = match sent {
        Ok(s) => (Some(i64::from(s)), None, (200..300).contains(&s)),
        Err(e) => (None, Some(e), false),
    };
    let now = now_ms();
    let outcome = match () {
        _ if ok => "delivered",
        _ if done > RETRIES => "failed",
        _ => "retrying",
    };
    metrics::counter!(crate::metrics::WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
    let delay = retry_delay(state.config.webhook_retry_base, done);
    Ok(AttemptResult {
        delivery: d,
        owner,
        outcome,
        next_attempt_at: now + delay.as_millis() as i64,
        status_code,
        error,
        at: now,
    })
}

/// Records the attempts finished since the last call, in one transaction
/// (their leases keep them from anyone else until then).
async fn record(state: &AppState, finished: &mut Vec<AttemptResult>) {
    if finished.is_empty() {
        return;
    }
    match state.meta.record_attempts(finished).await {
        Ok(held) => {
            for (r, held) in finished.iter().zip(held) {
                if !held {
                    let id = &r.delivery.delivery_id;
                    tracing::warn!(delivery = %id, "webhook: lease lost during an attempt");
                }
            }
        }
        // Not recorded: their leases lapse and the attempts are made again.
        Err(e) => tracing::warn!(error = %e, "webhook: attempts not recorded"),
    }
    finished.clear();
}

type Running = JoinSet<Option<AttemptResult>>;

/// Leases the due deliveries (at most [`CONCURRENCY`] in flight) in one
/// claim and starts them; returns how many were started and whether the
/// claim took all it asked for (more may be due).
async fn start_due(
    state: &AppState,
    claim: String,
    running: &mut Running,
) -> AppResult<(usize, bool)> {
    let free = CONCURRENCY.saturating_sub(running.len());
    if free == 0 {
        return Ok((0, false));
    }
    let now = now_ms();
    let due = state
        .meta
        .claim_deliveries(&claim, now, now + LEASE_MS, free as i64)
        .await?;
    let started = due.len();
    for d in due {
        let (state, owner) = (state.clone(), claim.clone());
        running.spawn(async move {
            let id = d.delivery_id.clone();
            attempt(&state, owner, d)
                .await
                .inspect_err(
                    |e| tracing::warn!(delivery = %id, error = %e, "webhook: attempt not made"),
                )
                .ok()
        });
    }
    Ok((started, started == free))
}

/// How often the backlog gauges are read.
const BACKLOG_EVERY: Duration = Duration::from_secs(10);

/// Sets the queue-depth and oldest-pending gauges (SPEC §11 metrics).
async fn gauge_backlog(state: &AppState) {
    match state.meta.delivery_backlog().await {
        Ok((pending, oldest)) => {
            metrics::gauge!(crate::metrics::WEBHOOK_PENDING).set(pending as f64);
            let age = oldest.map_or(0, |t| (now_ms() - t).max(0));
            metrics::gauge!(crate::metrics::WEBHOOK_OLDEST).set(age as f64 / 1000.0);
        }
        Err(e) => tracing::warn!(error = %e, "webhook: backlog not read"),
    }
}

/// Removes deliveries finished more than [`RETENTION`] ago.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    let cutoff = now_ms() - RETENTION.as_millis() as i64;
    state.meta.prune_deliveries(cutoff).await
}

/// Runs the worker forever (aborting it drops the attempts in flight; their
/// leases lapse and another attempt follows). Each claim leases with its
/// own token (`node_…:n`), so an attempt is recorded only by the claim that
/// made it.
pub async fn run(state: AppState) {
    let node = format!("node_{}", uuid::Uuid::new_v4().simple());
    let mut running: Running = JoinSet::new();
    let mut finished: Vec<AttemptResult> = Vec::new();
    let (mut claims, mut pruned, mut backlog) = (0u64, None, None);
    loop {
        while let Some(done) = running.try_join_next() {
            finished.extend(done.ok().flatten());
        }
        record(&state, &mut finished).await;
        claims += 1;
        let (_, more) = start_due(&state, format!("{node}:{claims}"), &mut running)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "webhook: cannot read due deliveries");
                (0, false)
            });
        upkeep(&state, &mut backlog, &mut pruned).await;
        if !more || running.len() >= CONCURRENCY {
            tokio::select! {
                _ = state.meta.events_signal().notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                Some(done) = running.join_next(), if !running.is_empty() => {
                    finished.extend(done.ok().flatten());
                }
            }
        }
    }
}

/// The backlog gauges every [`BACKLOG_EVERY`], pruning every [`PRUNE_EVERY`].
async fn upkeep(
    state: &AppState,
    backlog: &mut Option<std::time::Instant>,
    pruned: &mut Option<std::time::Instant>,
) {
    if backlog.is_none_or(|t| t.elapsed() >= BACKLOG_EVERY) {
        *backlog = Some(std::time::Instant::now());
        gauge_backlog(state).await;
    }
    if pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
        *pruned = Some(std::time::Instant::now());
        if let Err(e) = prune(state).await {
            tracing::warn!(error = %e, "webhook: finished deliveries not pruned");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn retries_wait_base_times_six_to_the_n() {
        let secs = |n| retry_delay(5.0, n).as_secs();
        assert_eq!([secs(1), secs(2), secs(3), secs(4)], [5, 30, 180, 1080]);
        assert_eq!(secs(6), 38_880);
        assert_eq!(retry_delay(0.5, 1), Duration::from_millis(500));
    }
}
