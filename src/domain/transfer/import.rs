//! `stowage import SOURCE --account A --to /folder` (SPEC §13): every file
//! of the source becomes `/folder/<its relative path>`, uploaded through the
//! one upload plan (limits, MIME allow-list, deduplication) as the
//! account's operator. Once [`Progress::request_stop`] is called no new
//! file is started; each file is committed whole or not at all, so a run
//! stopped (or killed) anywhere resumes by running it again.

use super::{count, counted, hash_stream, join, stored_sha256, Outcome, Progress, Summary};
use crate::auth::Principal;
use crate::blobs::source::{Entry, Source};
use crate::domain::plan::{self, Intent, Uploader};
use crate::domain::{folders, paths};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use futures::{StreamExt, TryStreamExt};

/// What to import, and where.
pub struct Import {
    pub account: String,
    /// The folder the source's tree goes under.
    pub to: String,
    pub concurrency: usize,
    /// Plan every file (limits, path, a skip) but copy nothing.
    pub dry_run: bool,
}

/// Imports every file of `source`; fails as a whole only on bad input (an
/// unknown account, an invalid folder, a source that cannot be listed).
pub async fn run(
    state: &AppState,
    source: &Source,
    job: &Import,
    progress: &Progress,
) -> AppResult<Summary> {
    plan::load_account(state, &job.account).await?;
    let to = folders::normalize(&job.to)?;
    let mut listing = std::pin::pin!(source.entries().peekable());
    // A source that cannot be listed at all fails the run as before.
    if let Some(Err(cause)) = listing.as_mut().peek().await {
        return Err(AppError::invalid_request(
            format!("Cannot read {}: {cause}", source.describe()),
            "Name an existing directory, file:// URL or object store prefix.",
        ));
    }
    progress.start();
    let principal = Principal::operator(&job.account);
    let copies = listing
        .map(|entry| {
            let (principal, to) = (principal.clone(), &to);
            async move {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(why) => return Outcome::Failed(source.describe(), why),
                };
                if progress.stopping() {
                    return Outcome::NotStarted;
                }
                let path = join(to, &entry.path);
                let outcome =
                    match one(state, source, (job, principal), &entry, &path, progress).await {
                        Ok(true) => Outcome::Copied(entry.size),
                        Ok(false) => Outcome::Skipped,
                        Err(why) => Outcome::Failed(path, why),
                    };
                progress.file_done();
                outcome
            }
        })
        .buffer_unordered(job.concurrency.max(1));
    let sizes = source.entries().map_ok(|e| e.size);
    let ((), summary) = futures::join!(count(sizes, progress), Summary::of(copies));
    Ok(summary)
}

/// Copies one file unless the account already holds it; true when copied.
async fn one(
    state: &AppState,
    source: &Source,
    (job, principal): (&Import, Principal),
    entry: &Entry,
    path: &str,
    progress: &Progress,
) -> Result<bool, String> {
    paths::validate_file_path(path).map_err(|e| e.message())?;
    let existing = state
        .meta
        .get_file(&job.account, path)
        .await
        .map_err(|e| e.message())?;
    if let Some(row) = existing.filter(|r| r.size as u64 == entry.size) {
        let body = source.get(entry).await?;
        let (sha256, _) = hash_stream(body, progress).await?;
        if stored_sha256(&row) == Some(sha256.as_str()) {
            return Ok(false);
        }
    }
    let intent = Intent {
        account: job.account.clone(),
        path: Some(plan::exact(path)),
        original_file_name: Some(paths::file_name(path).to_string()),
        declared_size: Some(entry.size),
        ..Intent::default()
    };
    let planned = plan::plan(state, Uploader::new(principal), intent)
        .await
        .map_err(|e| e.message())?;
    if job.dry_run {
        return Ok(true);
    }
    let body = source.get(entry).await?;
    let prepared = planned
        .stream(state, counted(body, progress, None), None)
        .await
        .map_err(|e| e.message())?;
    prepared.commit(state).await.map_err(|e| e.message())?;
    Ok(true)
}
