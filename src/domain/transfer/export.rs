//! `stowage export --account A /folder DEST` (SPEC §13): every file under
//! the folder (its whole subtree) is written to `DEST/<relative path>`, and
//! `DEST/manifest.jsonl` lists them (path relative to DEST, size, sha256, versionId,
//! mime, metadata, tags), one JSON object a line, sorted by path: the files
//! are listed page by page in path order and the manifest is written line
//! by line in that order, so neither is ever held whole.
//!
//! A file is written to a hidden `.<name>.stowage-partial` beside its place
//! and renamed once whole and checked, so an interrupted export never leaves
//! a short file under the real name.

use super::{count, counted, hash_stream, stored_sha256, Outcome, Progress, Summary};
use crate::auth::Principal;
use crate::domain::files::{self, RAW_SLUG};
use crate::domain::folders::{self, ListItem, ListParams};
use crate::domain::plan;
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::AppState;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::io::AsyncWriteExt;

/// The manifest's name, at the root of the destination.
pub const MANIFEST: &str = "manifest.jsonl";

/// What to export, and where.
pub struct Export {
    pub account: String,
    pub folder: String,
    pub dest: PathBuf,
    pub concurrency: usize,
}

/// Exports every file under the folder; fails as a whole only on bad input
/// (an unknown account, an invalid folder, a destination that cannot be
/// created) or when the manifest cannot be written.
pub async fn run(state: &AppState, job: &Export, progress: &Progress) -> AppResult<Summary> {
    plan::load_account(state, &job.account).await?;
    let folder = folders::normalize(&job.folder)?;
    let principal = Principal::operator(&job.account);
    // A folder that holds nothing (and has no settings) does not exist.
    folders::get(state, &principal, &job.account, &folder).await?;
    tokio::fs::create_dir_all(&job.dest).await.map_err(|e| {
        AppError::invalid_request(
            format!("Cannot create {}: {e}", job.dest.display()),
            "Name a directory you may write to (it is created if missing).",
        )
    })?;
    progress.start();
    let sizes = file_rows(state, &principal, &job.account, &folder).map_ok(|r| r.size as u64);
    let copies = file_rows(state, &principal, &job.account, &folder)
        .map(|row| {
            let (principal, folder) = (&principal, &folder);
            async move {
                let row = row?;
                let rel = relative(folder, &row.path);
                let done = one(state, principal, job, &row, &rel, progress).await;
                progress.file_done();
                Ok(match done {
                    Ok((true, sha256)) => {
                        (Outcome::Copied(row.size as u64), Some((row, rel, sha256)))
                    }
                    Ok((false, sha256)) => (Outcome::Skipped, Some((row, rel, sha256))),
                    Err(why) => (Outcome::Failed(row.path.clone(), why), None),
                })
            }
        })
        // In listing (path) order, for the manifest.
        .buffered(job.concurrency.max(1));
    let (_, summary) = futures::join!(count(sizes, progress), write(&job.dest, copies));
    summary
}

/// Every file under `folder` (the whole subtree), in path order, a page
/// at a time.
fn file_rows<'a>(
    state: &'a AppState,
    principal: &'a Principal,
    account: &'a str,
    folder: &'a str,
) -> impl futures::Stream<Item = AppResult<FileRow>> + 'a {
    futures::stream::try_unfold(Some(None), move |cursor| async move {
        let Some(cursor) = cursor else {
            return AppResult::Ok(None);
        };
        let params = ListParams {
            folder: folder.to_string(),
            cursor,
            limit: Some(1000),
            recursive: true,
            include_files: true,
        };
        let page = folders::list(state, principal, account, params).await?;
        let rows = page.items.into_iter().filter_map(|item| match item {
            ListItem::File(row) => Some(Ok(row)),
            ListItem::Folder(_) => None,
        });
        let next = (!page.complete).then_some(Some(page.cursor));
        Ok(Some((
            futures::stream::iter(rows.collect::<Vec<_>>()),
            next,
        )))
    })
    .try_flatten()
}

type Copied = (Outcome, Option<(FileRow, String, String)>);

/// Counts the outcomes and writes the manifest line by line, in the order
/// they come, replacing any earlier manifest once complete.
async fn write<S>(dest: &Path, copies: S) -> AppResult<Summary>
where
    S: futures::Stream<Item = AppResult<Copied>>,
{
    let tmp = dest.join(format!(".{MANIFEST}.stowage-partial"));
    let failed = |e: std::io::Error| AppError::Internal {
        cause: format!("cannot write {}: {e}", dest.join(MANIFEST).display()),
    };
    let file = tokio::fs::File::create(&tmp).await.map_err(failed)?;
    let mut out = tokio::io::BufWriter::new(file);
    let mut copies = std::pin::pin!(copies);
    let mut summary = Summary::default();
    while let Some(copied) = copies.next().await {
        let (outcome, line) = copied?;
        summary.add(outcome);
        if let Some((row, rel, sha256)) = line {
            let mut text = manifest_line(&row, &rel, &sha256).to_string();
            text.push('\n');
            out.write_all(text.as_bytes()).await.map_err(failed)?;
        }
    }
    out.flush().await.map_err(failed)?;
    tokio::fs::rename(&tmp, dest.join(MANIFEST))
        .await
        .map_err(failed)?;
    summary.failed.sort();
    Ok(summary)
}

/// `path` relative to `folder` (`/a`, `/a/b/c.png` → `b/c.png`).
fn relative(folder: &str, path: &str) -> String {
    let base = folder.trim_end_matches('/');
    path.strip_prefix(base)
        .unwrap_or(path)
        .trim_start_matches('/')
        .to_string()
}

/// Writes one file unless DEST holds it already; (copied, its SHA-256).
async fn one(
    state: &AppState,
    principal: &Principal,
    job: &Export,
    row: &FileRow,
    rel: &str,
    progress: &Progress,
) -> Result<(bool, String), String> {
    if rel == MANIFEST {
        return Err(format!("its name is taken by the {MANIFEST} of the export"));
    }
    // Stored paths are validated (no `..`, no empty segment): `rel` stays
    // under DEST.
    let local = rel.split('/').fold(job.dest.clone(), |p, s| p.join(s));
    if let Some(sha256) = already_there(&local, row, progress).await {
        return Ok((false, sha256));
    }
    // The listed version, read past the download cache (which would keep
    // every exported row: memory growing with the count, up to its capacity).
    let version = Some(row.version_id.as_str());
    let (served, _) =
        files::for_download(state, principal, &job.account, &row.path, version, RAW_SLUG)
            .await
            .map_err(|e| e.message())?;
    let row = &served.row;
    let size = row.size as u64;
    let body = state
        .blobs
        .get_range(&row.blob_key, 0..size)
        .await
        .map_err(|e| e.message())?;
    let hasher = Mutex::new(Sha256::new());
    let written = write_file(&local, counted(body, progress, Some(&hasher))).await?;
    let sha256 = hex::encode(hasher.into_inner().expect("hasher").finalize());
    let checked = match stored_sha256(row) {
        Some(want) if want != sha256 => Err(format!(
            "the stored bytes do not match their SHA-256 ({sha256}, expected {want})"
        )),
        _ if written != size => Err(format!("read {written} bytes, expected {size}")),
        _ => Ok(()),
    };
    let partial = partial_of(&local);
    if let Err(why) = checked {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(why);
    }
    tokio::fs::rename(&partial, &local)
        .await
        .map_err(|e| format!("cannot rename into {}: {e}", local.display()))?;
    Ok((true, sha256))
}

/// The SHA-256 of the local file when it has the stored file's size and
/// SHA-256 (the resume check).
async fn already_there(local: &Path, row: &FileRow, progress: &Progress) -> Option<String> {
    let meta = tokio::fs::metadata(local).await.ok()?;
    if !meta.is_file() || meta.len() != row.size as u64 {
        return None;
    }
    let file = tokio::fs::File::open(local).await.ok()?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let (sha256, _) = hash_stream(body, progress).await.ok()?;
    (stored_sha256(row)? == sha256).then_some(sha256)
}

fn partial_of(local: &Path) -> PathBuf {
    let name = local.file_name().map(|n| n.to_string_lossy().into_owned());
    local.with_file_name(format!(".{}.stowage-partial", name.unwrap_or_default()))
}

/// Streams `body` into the partial file of `local`; the bytes written.
async fn write_file<S>(local: &Path, body: S) -> Result<u64, String>
where
    S: futures::Stream<Item = std::io::Result<bytes::Bytes>>,
{
    if let Some(dir) = local.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let partial = partial_of(local);
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", partial.display());
    let mut file = tokio::fs::File::create(&partial).await.map_err(failed)?;
    let mut body = std::pin::pin!(body);
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("read failed: {e}"))?;
        file.write_all(&chunk).await.map_err(failed)?;
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(failed)?;
    Ok(written)
}

fn manifest_line(row: &FileRow, rel: &str, sha256: &str) -> Value {
    json!({
        "path": rel,
        "size": row.size,
        "sha256": sha256,
        "mime": row.mime,
        "metadata": serde_json::from_str::<Value>(&row.metadata).unwrap_or(json!({})),
        "tags": serde_json::from_str::<Value>(&row.tags).unwrap_or(json!([])),
        "versionId": row.version_id,
    })
}
