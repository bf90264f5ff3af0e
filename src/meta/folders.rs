//! Folders: explicit rows, settings, listings.
//!
//! The trait is implemented for both backends from one SQL body (see `sql.rs`).

use super::*;
use crate::error::AppResult;
use async_trait::async_trait;

#[async_trait]
pub trait FolderStore: Send + Sync {
    async fn get_folder(&self, account_id: &str, path: &str) -> AppResult<Option<FolderRow>>;
    /// Creates or updates an explicit folder with these settings (and its
    /// ancestors as implicit folders).
    async fn put_folder(
        &self,
        account_id: &str,
        path: &str,
        settings: &str,
        now: i64,
    ) -> AppResult<FolderRow>;
    /// Every folder of the account that has settings: (path, settings JSON).
    async fn folder_settings(&self, account_id: &str) -> AppResult<Vec<(String, String)>>;
    /// Whether any file or folder lies below `path`.
    async fn folder_has_content(&self, account_id: &str, path: &str) -> AppResult<bool>;
    /// One page of a folder's children (or whole subtree), each kind in path order.
    async fn list_folder(&self, q: &ListQuery) -> AppResult<(Vec<FolderRow>, Vec<FileRow>)>;
    /// Clears the folder's own settings (and, if `recursive`, every subfolder's)
    /// and removes the folders left with nothing below them. Returns how many
    /// folder rows were removed.
    async fn delete_folders(&self, account_id: &str, path: &str, recursive: bool)
        -> AppResult<u64>;
}

macro_rules! impl_folders {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::FolderStore for $ty {
            async fn get_folder(
                &self,
                account_id: &str,
                path: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::FolderRow>> {
                Ok(sqlx::query_as("SELECT * FROM folders WHERE account_id = $1 AND path = $2")
                    .bind(account_id)
                    .bind(path)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_folder(
                &self,
                account_id: &str,
                path: &str,
                settings: &str,
                now: i64,
            ) -> $crate::error::AppResult<$crate::meta::FolderRow> {
                $crate::meta::contended(|| async {
                    let mut tx = self.pool.begin().await?;
                    let mut chain = $crate::meta::ancestors(path);
                    chain.push((path.to_string(), $crate::meta::parent_of(path).to_string()));
                    for (folder, parent) in &chain {
                        if folder == "/" {
                            continue;
                        }
                        sqlx::query(
                            "INSERT INTO folders (account_id, path, parent, explicit, settings, created_at) \
                             VALUES ($1, $2, $3, FALSE, '{}', $4) ON CONFLICT (account_id, path) DO NOTHING",
                        )
                        .bind(account_id)
                        .bind(folder)
                        .bind(parent)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let event = folder_event!(tx, account_id, path, Some(settings), now);
                    let row: $crate::meta::FolderRow = sqlx::query_as(
                        "INSERT INTO folders (account_id, path, parent, explicit, settings, created_at) \
                         VALUES ($1, $2, $3, TRUE, $4, $5) ON CONFLICT (account_id, path) \
                         DO UPDATE SET explicit = TRUE, settings = excluded.settings RETURNING *",
                    )
                    .bind(account_id)
                    .bind(path)
                    .bind($crate::meta::parent_of(path))
                    .bind(settings)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    commit_signalled!(self, tx, event);
                    Ok(row)
                })
                .await
            }

            async fn folder_settings(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT path, settings FROM folders WHERE account_id = $1 AND settings <> '{}'",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn folder_has_content(
                &self,
                account_id: &str,
                path: &str,
            ) -> $crate::error::AppResult<bool> {
                let (lo, hi) = $crate::meta::subtree_range(path);
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT CAST(1 AS BIGINT) FROM files WHERE account_id = $1 AND path >= $2 \
                     AND path < $3 UNION ALL SELECT CAST(1 AS BIGINT) FROM folders \
                     WHERE account_id = $1 AND path >= $2 \
                     AND path < $3 AND path <> '/' LIMIT 1",
                )
                .bind(account_id)
                .bind(&lo)
                .bind(&hi)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.is_some())
            }

            async fn list_folder(
                &self,
                q: &$crate::meta::ListQuery,
            ) -> $crate::error::AppResult<(Vec<$crate::meta::FolderRow>, Vec<$crate::meta::FileRow>)> {
                use $crate::meta::After;
                let (lo, hi) = $crate::meta::subtree_range(&q.folder);
                let (after, files_inclusive) = match &q.after {
                    After::Start => (String::new(), false),
                    After::Folder(p) => (p.clone(), true),
                    After::File(p) => (p.clone(), false),
                };
                let scope = if q.recursive {
                    "path >= $2 AND path < $3 AND path <> '/'"
                } else {
                    "parent = $4 AND ($2 <> $3 OR TRUE)"
                };
                let folders_sql = format!(
                    "SELECT * FROM folders WHERE account_id = $1 AND {scope} AND path > $5 \
                     ORDER BY path LIMIT $6"
                );
                let folders: Vec<$crate::meta::FolderRow> = sqlx::query_as(&folders_sql)
                    .bind(&q.account_id)
                    .bind(&lo)
                    .bind(&hi)
                    .bind(&q.folder)
                    .bind(&after)
                    .bind(q.limit)
                    .fetch_all(&self.pool)
                    .await?;
                if !q.include_files {
                    return Ok((folders, Vec::new()));
                }
                let cmp = if files_inclusive { ">=" } else { ">" };
                let fscope = if q.recursive {
                    "f.path >= $2 AND f.path < $3"
                } else {
                    "f.parent = $4 AND ($2 <> $3 OR TRUE)"
                };
                let files_sql = format!(
                    "SELECT {} FROM files f JOIN file_versions v ON v.version_id = f.version_id \
                     WHERE f.account_id = $1 AND {fscope} AND f.path {cmp} $5 \
                     ORDER BY f.path LIMIT $6",
                    $crate::meta::sql::FILE_COLUMNS
                );
                let files: Vec<$crate::meta::FileRow> = sqlx::query_as(&files_sql)
                    .bind(&q.account_id)
                    .bind(&lo)
                    .bind(&hi)
                    .bind(&q.folder)
                    .bind(&after)
                    .bind(q.limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok((folders, files))
            }

            async fn delete_folders(
                &self,
                account_id: &str,
                path: &str,
                recursive: bool,
            ) -> $crate::error::AppResult<u64> {
                $crate::meta::contended(|| async {
                    let (lo, hi) = $crate::meta::subtree_range(path);
                    let mut tx = self.pool.begin().await?;
                    let event = cleared_events!(tx, account_id, path, recursive, $crate::meta::now_ms());
                    let reset = if recursive {
                        "UPDATE folders SET explicit = FALSE, settings = '{}' WHERE account_id = $1 \
                         AND (path = $2 OR (path >= $3 AND path < $4))"
                    } else {
                        "UPDATE folders SET explicit = FALSE, settings = '{}' WHERE account_id = $1 \
                         AND path = $2 AND ($3 <> $4 OR TRUE)"
                    };
                    sqlx::query(reset)
                        .bind(account_id)
                        .bind(path)
                        .bind(&lo)
                        .bind(&hi)
                        .execute(&mut *tx)
                        .await?;
                    // Deepest first, so a folder's emptiness is judged after its children's.
                    let mut candidates: Vec<(String,)> = sqlx::query_as(
                        "SELECT path FROM folders WHERE account_id = $1 AND path >= $2 AND path < $3 \
                         AND path <> '/'",
                    )
                    .bind(account_id)
                    .bind(&lo)
                    .bind(&hi)
                    .fetch_all(&mut *tx)
                    .await?;
                    candidates.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(b.0.cmp(&a.0)));
                    let mut chain: Vec<String> = candidates.into_iter().map(|(p,)| p).collect();
                    if path != "/" {
                        chain.push(path.to_string());
                        chain.extend($crate::meta::ancestors(path).into_iter().rev().map(|(p, _)| p));
                    }
                    let mut removed = 0;
                    for folder in chain {
                        removed += sqlx::query($crate::meta::sql::PRUNE_FOLDER)
                            .bind(account_id)
                            .bind(&folder)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    commit_signalled!(self, tx, event);
                    Ok(removed)
                })
                .await
            }
        }
    };
}

impl_folders!(super::PgMeta);
impl_folders!(super::SqliteMeta);
