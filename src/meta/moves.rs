//! Moving a file (SPEC §7, stowage's own): its pointer row and its whole
//! history change path in one transaction, so readers see it at one path or
//! the other, never neither; no byte moves (the versions keep their blobs).

use crate::error::AppResult;
use async_trait::async_trait;

/// What became of a move.
#[derive(Debug, PartialEq)]
pub enum MoveOutcome {
    /// No file at the source.
    Missing,
    /// A file is at the destination and `overwrite` was false.
    Exists,
    /// Moved; the blob keys freed by replacing the destination (to delete).
    Moved { freed: Vec<String> },
}

#[async_trait]
pub trait MoveStore: Send + Sync {
    /// Moves the file at `source` (with its history) to `destination`; a file
    /// already there is replaced (its history dropped) only if `overwrite`.
    async fn move_file(
        &self,
        account_id: &str,
        source: &str,
        destination: &str,
        overwrite: bool,
        now: i64,
    ) -> AppResult<MoveOutcome>;
}

/// In transaction `$tx`: removes the file at `$path` with its history, as a
/// deletion does (blobs released, usage credited, `file.deleted`); evaluates
/// to `Some((freed keys, event written))`, None when there was no file.
macro_rules! remove_in_tx {
    ($tx:expr, $account:expr, $path:expr, $now:expr) => {{
        let current: Option<(String,)> = sqlx::query_as(
            "DELETE FROM files WHERE account_id = $1 AND path = $2 RETURNING version_id",
        )
        .bind($account)
        .bind($path)
        .fetch_optional(&mut *$tx)
        .await?;
        match current {
            None => None,
            Some((current,)) => {
                let event = deleted_event!($tx, $account, &current, $now);
                let versions: Vec<(String, String, i64)> = sqlx::query_as(
                    "DELETE FROM file_versions WHERE account_id = $1 AND path = $2 \
                     RETURNING blob_key, version_id, size",
                )
                .bind($account)
                .bind($path)
                .fetch_all(&mut *$tx)
                .await?;
                let keys: Vec<String> = versions.iter().map(|v| v.0.clone()).collect();
                let mut freed = release_blobs!($tx, &keys, $now);
                let derived = $crate::meta::files::drop_derived(&mut $tx, &versions).await?;
                $crate::meta::files::queue_gc(&mut $tx, &derived, $now).await?;
                freed.extend(derived);
                $crate::meta::usage::credit_delete(&mut $tx, $account, &versions).await?;
                Some((freed, event))
            }
        }
    }};
}

/// In transaction `$tx`: the folders of `$dest` exist (implicit ones made),
/// those of `$source` left empty go.
macro_rules! move_folders {
    ($tx:expr, $account:expr, $source:expr, $dest:expr, $now:expr) => {{
        for (folder, parent) in $crate::meta::ancestors($dest) {
            sqlx::query($crate::meta::sql::INSERT_IMPLICIT_FOLDER)
                .bind($account)
                .bind(&folder)
                .bind(&parent)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
        }
        for (folder, _) in $crate::meta::ancestors($source).iter().rev() {
            sqlx::query($crate::meta::sql::PRUNE_FOLDER)
                .bind($account)
                .bind(folder)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

macro_rules! impl_moves {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::MoveStore for $ty {
            async fn move_file(
                &self,
                account_id: &str,
                source: &str,
                destination: &str,
                overwrite: bool,
                now: i64,
            ) -> $crate::error::AppResult<$crate::meta::MoveOutcome> {
                use $crate::meta::MoveOutcome;
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    // Writes first (SQLite: a read transaction cannot become a write one).
                    let current: Option<(String,)> = sqlx::query_as(
                        "DELETE FROM files WHERE account_id = $1 AND path = $2 RETURNING version_id",
                    )
                    .bind(account_id)
                    .bind(source)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((current,)) = current else {
                        tx.rollback().await?;
                        return Ok(MoveOutcome::Missing);
                    };
                    let taken: Option<(String,)> = sqlx::query_as(
                        "SELECT version_id FROM files WHERE account_id = $1 AND path = $2",
                    )
                    .bind(account_id)
                    .bind(destination)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if taken.is_some() && !overwrite {
                        tx.rollback().await?;
                        return Ok(MoveOutcome::Exists);
                    }
                    let (freed, replaced) = remove_in_tx!(tx, account_id, destination, now)
                        .unwrap_or_default();
                    // `file.deleted` names the source path: read before the rows move.
                    let gone = deleted_event!(tx, account_id, &current, now);
                    sqlx::query(
                        "UPDATE file_versions SET path = $3 WHERE account_id = $1 AND path = $2",
                    )
                    .bind(account_id)
                    .bind(source)
                    .bind(destination)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO files (account_id, path, parent, version_id) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(account_id)
                    .bind(destination)
                    .bind($crate::meta::parent_of(destination))
                    .bind(&current)
                    .execute(&mut *tx)
                    .await?;
                    move_folders!(tx, account_id, source, destination, now);
                    let q = format!(
                        "SELECT {} FROM file_versions v WHERE v.version_id = $1",
                        $crate::meta::sql::FILE_COLUMNS
                    );
                    let moved: $crate::meta::FileRow =
                        sqlx::query_as(&q).bind(&current).fetch_one(&mut *tx).await?;
                    let created = created_event!(tx, &moved);
                    commit_signalled!(self, tx, replaced || gone || created);
                    Ok(MoveOutcome::Moved { freed })
                })
                .await
            }
        }
    };
}

impl_moves!(super::PgMeta);
impl_moves!(super::SqliteMeta);
