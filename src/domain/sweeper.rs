//! The background sweeper: deletes blobs whose GC entry is due (uploads that
//! never committed, dropped versions, deleted files whose inline delete failed).

use crate::domain::ingest::discard;
use crate::meta::now_ms;
use crate::state::AppState;
use std::time::Duration;

/// A node silent this long is dead: three missed sweeps, at least 10 s.
pub fn dead_after(state: &AppState) -> i64 {
    (state.config.sweep_interval.max(1) as i64 * 3 * 1000).max(10_000)
}

/// Records this node's heartbeat (at start and at every sweep).
pub async fn heartbeat(state: &AppState) {
    if let Err(e) = state.meta.node_heartbeat(&state.node_id, now_ms()).await {
        tracing::warn!(error = %e, "heartbeat not recorded");
    }
}

/// Deletes every due blob once, and the staged blobs of dead nodes; returns
/// how many were removed.
pub async fn sweep_once(state: &AppState) -> usize {
    let mut removed = 0;
    loop {
        let due = match due_now(state).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "sweeper: cannot read due blobs");
                return removed;
            }
        };
        if due.is_empty() {
            return removed;
        }
        let batch = due.len();
        for key in due {
            match abort_and_delete(state, &key).await {
                Ok(()) => {
                    if state.meta.gc_remove(&key).await.is_ok() {
                        removed += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(blob.key = %key, error = %e, "sweeper: delete failed");
                    return removed;
                }
            }
        }
        if batch < 500 {
            return removed;
        }
    }
}

/// Blobs whose GC entry is due, and staged blobs of dead nodes.
async fn due_now(state: &AppState) -> crate::error::AppResult<Vec<String>> {
    let mut due = state.meta.gc_due(now_ms(), 500).await?;
    let orphans = state
        .meta
        .gc_orphaned(now_ms() - dead_after(state), 500)
        .await?;
    for key in orphans {
        if !due.contains(&key) {
            due.push(key);
        }
    }
    Ok(due)
}

/// Aborts the store-side multipart upload a crash left for `key` (if any),
/// then deletes the object.
pub(crate) async fn abort_and_delete(state: &AppState, key: &str) -> crate::error::AppResult<()> {
    if let Some(upload_id) = state.meta.gc_upload_of(key).await? {
        state.blobs.abort_upload(key, &upload_id).await?;
        state.meta.gc_upload_finished(key).await?;
    }
    state.blobs.delete(key).await
}

/// Removes the local store's staging files a crash left, at most every
/// `STOWAGE_ABANDONED_UPLOAD_TTL / 2` (walking the tree is not free).
async fn sweep_staging_files(state: &AppState, last: &mut Option<std::time::Instant>) {
    let ttl = Duration::from_secs(state.config.abandoned_upload_ttl);
    let every = (ttl / 2).min(Duration::from_secs(3600));
    if last.is_some_and(|t| t.elapsed() < every) {
        return;
    }
    *last = Some(std::time::Instant::now());
    let n = state.blobs.sweep_staging_files(ttl).await;
    if n > 0 {
        tracing::info!(
            files.removed = n,
            "sweeper removed staging files left by a crash"
        );
    }
}

/// Deletes sandbox accounts' files older than `STOWAGE_SANDBOX_TTL`, bytes
/// included; returns how many files went.
pub async fn sweep_sandboxes(state: &AppState) -> crate::error::AppResult<usize> {
    let cutoff = now_ms() - (state.config.sandbox_ttl as i64) * 1000;
    let mut removed = 0;
    loop {
        let batch = state.meta.expired_sandbox_files(cutoff, 200).await?;
        if batch.is_empty() {
            return Ok(removed);
        }
        for (account, path) in batch {
            let dropped = state.meta.delete_file(&account, &path, now_ms()).await?;
            state.files.forget(&account, &path).await;
            for key in dropped.unwrap_or_default() {
                discard(state, &key).await;
            }
            removed += 1;
        }
    }
}

/// Runs [`sweep_once`] every `interval` forever.
pub async fn run(state: AppState, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    let mut staging_swept = None;
    loop {
        tick.tick().await;
        heartbeat(&state).await;
        if let Err(e) = state.meta.prune_nodes(now_ms() - 86_400_000).await {
            tracing::warn!(error = %e, "sweeper: silent nodes not pruned");
        }
        // Rate-limit buckets that are full again are forgotten (SPEC §12).
        state.rates.retain_recent();
        sweep_staging_files(&state, &mut staging_swept).await;
        let n = sweep_once(&state).await;
        if n > 0 {
            tracing::info!(blobs.removed = n, "sweeper removed abandoned blobs");
        }
        match sweep_sandboxes(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files.removed = n, "sweeper removed expired sandbox files"),
            Err(e) => tracing::warn!(error = %e, "sweeper: sandbox files not removed"),
        }
        if let Err(e) = state.meta.prune_used_tokens(now_ms()).await {
            tracing::warn!(error = %e, "sweeper: used client tokens not pruned");
        }
        // Expired upload tokens answer token_expired for a day, then are forgotten.
        if let Err(e) = state.meta.prune_upload_tokens(now_ms() - 86_400_000).await {
            tracing::warn!(error = %e, "sweeper: expired upload tokens not pruned");
        }
        match crate::domain::digests::run_once(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(blobs.hashed = n, "digest pass hashed stored objects"),
            Err(e) => tracing::warn!(error = %e, "digest pass stopped; it resumes next sweep"),
        }
        match crate::domain::multipart::sweep_expired(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                uploads.expired = n,
                "sweeper removed expired multipart uploads"
            ),
            Err(e) => tracing::warn!(error = %e, "sweeper: expired multipart uploads not removed"),
        }
        match crate::domain::tus::sweep_expired(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads.expired = n, "sweeper removed expired tus uploads"),
            Err(e) => tracing::warn!(error = %e, "sweeper: expired tus uploads not removed"),
        }
    }
}
