//! The background digest pass (SPEC §5): reads, once, every stored object
//! whose whole-file SHA-256 is not known (a version committed without
//! streaming its bytes whole, e.g. a store-side multipart completion, or a
//! duplicate that predates deduplication), records it so downloads can send
//! `Repr-Digest`, and merges the object into the account's identical one.
//!
//! It is resumable by construction: its queue is the `blobs` rows whose
//! `sha256` is NULL, so after a restart it simply picks up what is left. It
//! runs in the sweeper loop; `/metrics` shows `stowage_digest_pending_files`
//! and `stowage_digest_hashed_bytes_total`.

use crate::error::AppResult;
use crate::meta::{now_ms, DigestOutcome};
use crate::metrics::{DIGEST_HASHED_BYTES, DIGEST_PENDING};
use crate::state::AppState;
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// How many objects one batch reads.
const BATCH: i64 = 100;
/// A merged object is deleted this late, so that readers holding its key in
/// a path cache (1 s) or mid-download still find it.
const MERGE_GRACE_MS: i64 = 60_000;

/// Hashes every pending object once; returns how many were recorded. An
/// object that cannot be read is skipped until the next run.
pub async fn run_once(state: &AppState) -> AppResult<usize> {
    let mut done = 0;
    let mut failed = std::collections::HashSet::new();
    loop {
        metrics::gauge!(DIGEST_PENDING).set(state.meta.unhashed_count().await? as f64);
        let batch = state
            .meta
            .unhashed_blobs(BATCH + failed.len() as i64)
            .await?;
        let todo: Vec<_> = batch
            .into_iter()
            .filter(|(k, _)| !failed.contains(k))
            .collect();
        if todo.is_empty() {
            return Ok(done);
        }
        for (key, size) in todo {
            match hash_object(state, &key, size).await {
                Ok(hex) => {
                    let outcome = state
                        .meta
                        .record_digest(&key, &hex, now_ms() + MERGE_GRACE_MS)
                        .await?;
                    if outcome == DigestOutcome::Merged {
                        tracing::info!(blob.key = %key, "digest pass merged a duplicate object");
                    }
                    done += 1;
                }
                Err(e) => {
                    tracing::warn!(blob.key = %key, error = %e, "digest pass cannot read object");
                    failed.insert(key);
                }
            }
        }
    }
}

/// The lower-case hex SHA-256 of an object, read as a stream.
async fn hash_object(state: &AppState, key: &str, size: i64) -> AppResult<String> {
    let mut stream = state.blobs.get_range(key, 0..size.max(0) as u64).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(crate::error::AppError::internal)?;
        metrics::counter!(DIGEST_HASHED_BYTES).increment(chunk.len() as u64);
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}
