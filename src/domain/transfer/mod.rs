//! Bulk moves (SPEC §13): `stowage import` copies a directory or an object
//! store prefix into an account through the one upload plan ([`import`]);
//! `stowage export` copies a folder out to a directory with a
//! `manifest.jsonl` ([`export`]). Both copy `concurrency` files at a time,
//! each streamed, while the listing is read as it goes (a bounded channel
//! or page by page), so memory stays flat whatever the sizes and however
//! many files (docs/performance.md: a million files). They skip a file the
//! destination already holds with the same size and SHA-256 (so a run cut
//! short resumes where it stopped), count what they do in a [`Progress`] the
//! command line displays, and end with a [`Summary`].

pub mod export;
pub mod import;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Files copied at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// What a transfer has done so far, updated as bytes move (read by the
/// command line's progress display from another task).
#[derive(Default)]
pub struct Progress {
    pub total_files: AtomicU64,
    pub total_bytes: AtomicU64,
    pub files_done: AtomicU64,
    /// Bytes read: copied, or hashed to decide a skip.
    pub bytes_done: AtomicU64,
    /// Set once the transfer has begun (the totals grow while listing).
    pub started: std::sync::atomic::AtomicBool,
    /// Set once the whole source is listed (the totals are final).
    pub listed: std::sync::atomic::AtomicBool,
    /// Set on an interruption (Ctrl-C): no new file is started; the ones in
    /// progress finish (or fail) as usual.
    pub stop: std::sync::atomic::AtomicBool,
}

impl Progress {
    fn start(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// One more file found by the listing.
    fn found(&self, bytes: u64) {
        self.total_files.fetch_add(1, Ordering::Relaxed);
        self.total_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn listing_done(&self) {
        self.listed.store(true, Ordering::Release);
    }

    /// Whether the totals are final.
    pub fn is_listed(&self) -> bool {
        self.listed.load(Ordering::Acquire)
    }

    fn add_bytes(&self, n: u64) {
        self.bytes_done.fetch_add(n, Ordering::Relaxed);
    }

    /// Starts no new file from now on.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    /// (files done, files, bytes done, bytes).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.files_done.load(Ordering::Relaxed),
            self.total_files.load(Ordering::Relaxed),
            self.bytes_done.load(Ordering::Relaxed),
            self.total_bytes.load(Ordering::Relaxed),
        )
    }
}

/// How a transfer ended, file by file.
#[derive(Debug, Default)]
pub struct Summary {
    pub copied: u64,
    pub copied_bytes: u64,
    /// Already at the destination with the same size and SHA-256.
    pub skipped: u64,
    /// (path, reason), sorted by path.
    pub failed: Vec<(String, String)>,
    /// Not started because the run was interrupted ([`Progress::request_stop`]).
    pub not_started: u64,
}

/// What happened to one file.
enum Outcome {
    Copied(u64),
    Skipped,
    Failed(String, String),
    NotStarted,
}

impl Summary {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Copied(bytes) => {
                self.copied += 1;
                self.copied_bytes += bytes;
            }
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed(path, why) => self.failed.push((path, why)),
            Outcome::NotStarted => self.not_started += 1,
        }
    }

    /// Counts the outcomes as they come (none is kept but failures).
    async fn of<S: Stream<Item = Outcome>>(outcomes: S) -> Summary {
        let mut summary = outcomes
            .fold(Summary::default(), |mut summary, outcome| async move {
                summary.add(outcome);
                summary
            })
            .await;
        summary.failed.sort();
        summary
    }
}

/// Counts a second listing of the same files into the totals of
/// `progress` (files, bytes), so the display has an ETA while the copies
/// read theirs: neither listing is ever held whole.
async fn count<S, E>(listing: S, progress: &Progress)
where
    S: Stream<Item = Result<u64, E>>,
{
    let mut listing = std::pin::pin!(listing);
    while let Some(Ok(size)) = listing.next().await {
        progress.found(size);
    }
    progress.listing_done();
}

/// `body` with every chunk counted in `progress` and hashed into `hasher`.
fn counted<'a, S, E>(
    body: S,
    progress: &'a Progress,
    hasher: Option<&'a Mutex<Sha256>>,
) -> impl Stream<Item = Result<Bytes, E>> + Send + 'a
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'a,
{
    body.inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            progress.add_bytes(chunk.len() as u64);
            if let Some(h) = hasher {
                h.lock().expect("hasher").update(chunk);
            }
        }
    })
}

/// The SHA-256 (hex) and length of a stream, counting its bytes in `progress`.
async fn hash_stream<S, E>(body: S, progress: &Progress) -> Result<(String, u64), String>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("read failed: {e}"))?;
        progress.add_bytes(chunk.len() as u64);
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((hex::encode(hasher.finalize()), len))
}

/// A stored file's SHA-256 when known (a file assembled from parts by the
/// store has only the store's etag until the digest pass reads it).
fn stored_sha256(row: &crate::meta::FileRow) -> Option<&str> {
    row.sha256
        .as_deref()
        .or((row.etag.len() == 64).then_some(row.etag.as_str()))
}

/// Joins a folder and a `/`-separated relative path.
fn join(folder: &str, rel: &str) -> String {
    format!("{}/{rel}", folder.trim_end_matches('/'))
}
