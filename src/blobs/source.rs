//! Where `stowage import` reads from (SPEC §13): a local directory (a plain
//! path or `file://…`) or an object store prefix, in the URL form of
//! `STOWAGE_STORAGE_URL` (`s3://bucket/prefix?endpoint=…&region=…`). Listing
//! gives each file's path relative to the source and its size, as a stream
//! read as it goes (a million files never sit in memory at once); reading
//! a file streams it, never whole.

use super::{ByteStream, READ_CHUNK};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An opened import source.
pub enum Source {
    Local(PathBuf),
    Store {
        store: Arc<dyn ObjectStore>,
        prefix: Option<ObjectPath>,
        describe: String,
    },
}

/// One file of a source.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Relative to the source, `/`-separated, without a leading `/`.
    pub path: String,
    pub size: u64,
    at: At,
}

#[derive(Clone, Debug)]
enum At {
    File(PathBuf),
    Object(ObjectPath),
}

impl Source {
    /// Opens `spec`: a directory (`./photos`, `/srv/x`, `file:///srv/x`) that
    /// must exist, or an object store URL whose path is the prefix to copy.
    pub fn open(spec: &str) -> Result<Source, String> {
        let local = match spec.split_once("://") {
            None => Some(spec.to_string()),
            Some(("file", rest)) => Some(percent_decode(rest)),
            Some(_) => None,
        };
        if let Some(dir) = local {
            let dir = PathBuf::from(dir);
            return match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() => Ok(Source::Local(dir)),
                Ok(_) => Err(format!("{}: not a directory", dir.display())),
                Err(e) => Err(format!("{}: {e}", dir.display())),
            };
        }
        let parsed = url::Url::parse(spec).map_err(|e| format!("{spec}: {e}"))?;
        let prefix = percent_decode(parsed.path().trim_matches('/'));
        let (store, _, _) = super::resumable::open(spec)?;
        Ok(Source::Store {
            store,
            prefix: (!prefix.is_empty()).then(|| ObjectPath::from(prefix)),
            describe: super::redact(spec),
        })
    }

    /// The source without credentials, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Local(dir) => dir.display().to_string(),
            Source::Store { describe, .. } => describe.clone(),
        }
    }

    /// Every file under the source, as it is listed (directory by
    /// directory, or the store's pages), never all at once. Local symbolic
    /// links to files are followed, to directories not (no cycles). An
    /// error ends the stream.
    pub fn entries(&self) -> BoxStream<'static, Result<Entry, String>> {
        match self {
            Source::Local(dir) => walk(dir.clone()),
            Source::Store { store, prefix, .. } => list_store(store, prefix.clone()),
        }
    }

    /// The bytes of `entry`, streamed.
    pub async fn get(&self, entry: &Entry) -> Result<ByteStream, String> {
        match (&entry.at, self) {
            (At::File(path), _) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("cannot open: {e}"))?;
                Ok(tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).boxed())
            }
            (At::Object(key), Source::Store { store, .. }) => {
                let got = store.get(key).await.map_err(|e| e.to_string())?;
                Ok(got.into_stream().map_err(std::io::Error::other).boxed())
            }
            (At::Object(_), Source::Local(_)) => Err("not an entry of this source".into()),
        }
    }
}

fn list_store(
    store: &Arc<dyn ObjectStore>,
    prefix: Option<ObjectPath>,
) -> BoxStream<'static, Result<Entry, String>> {
    let skip = prefix.as_ref().map_or(0, |p| p.parts().count());
    store
        .list(prefix.as_ref())
        .map_err(|e| format!("cannot list: {e}"))
        .map_ok(move |m| {
            let parts: Vec<String> = m
                .location
                .parts()
                .skip(skip)
                .map(|p| percent_decode(p.as_ref()))
                .collect();
            Entry {
                path: parts.join("/"),
                size: m.size,
                at: At::Object(m.location),
            }
        })
        .try_filter(|e| std::future::ready(!e.path.is_empty()))
        .boxed()
}

/// Entries waiting between the directory walk and the copies.
const WALK_AHEAD: usize = 1024;

/// Walks `root` on a blocking thread, sending each file down a bounded
/// channel (the walk waits while the copies are behind).
fn walk(root: PathBuf) -> BoxStream<'static, Result<Entry, String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(WALK_AHEAD);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = walk_into(&root, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

type Sender = tokio::sync::mpsc::Sender<Result<Entry, String>>;

/// Sends every file under `root`; stops early (Ok) when nobody listens.
fn walk_into(root: &Path, tx: &Sender) -> Result<(), String> {
    let mut dirs = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = dirs.pop() {
        let read = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for item in read {
            let item = item.map_err(|e| format!("{}: {e}", dir.display()))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = item.file_type().map_err(|e| format!("{path}: {e}"))?;
            if kind.is_dir() {
                dirs.push((item.path(), path));
                continue;
            }
            // A link to a file counts as the file; others are left out.
            let entry = match std::fs::metadata(item.path()) {
                Ok(m) if m.is_file() => Entry {
                    path,
                    size: m.len(),
                    at: At::File(item.path()),
                },
                _ => continue,
            };
            if tx.blocking_send(Ok(entry)).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
