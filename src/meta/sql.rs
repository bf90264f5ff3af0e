//! The SQL both backends share. PostgreSQL and SQLite (≥ 3.35) both accept `$N`
//! parameters, `ON CONFLICT … DO UPDATE/NOTHING` and `RETURNING`, and the schema
//! uses only types both decode alike (TEXT, BIGINT, BOOLEAN), so one body of
//! queries serves both; `impl_meta_store!` instantiates it for each pool type.

pub(super) const FILE_COLUMNS: &str = "v.account_id, v.path, v.version_id, v.blob_key, v.size, \
     v.mime, v.etag, v.original_file_name, v.metadata, v.tags, v.created_at";

/// Queues blob `$1` for deletion at `$2` (or moves its due time).
pub(super) const GC_UPSERT: &str = "INSERT INTO blob_gc (blob_key, due_at) VALUES ($1, $2) \
     ON CONFLICT (blob_key) DO UPDATE SET due_at = excluded.due_at";

/// Deletes folder `$2` if it is implicit, has no settings and nothing lies below
/// it. `$2 || '/'` and `$2 || '0'` bound its subtree bytewise.
pub(super) const PRUNE_FOLDER: &str = "DELETE FROM folders WHERE account_id = $1 AND path = $2 \
     AND explicit = FALSE AND settings = '{}' \
     AND NOT EXISTS (SELECT 1 FROM files x WHERE x.account_id = $1 \
       AND x.path >= $2 || '/' AND x.path < $2 || '0') \
     AND NOT EXISTS (SELECT 1 FROM folders g WHERE g.account_id = $1 \
       AND g.path >= $2 || '/' AND g.path < $2 || '0')";

macro_rules! impl_meta_store {
    ($ty:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::meta::MetaStore for $ty {
            $crate::meta::usage::account_usage_fn!();

            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> $crate::error::AppResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn create_account(
                &self,
                a: &$crate::meta::Account,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO accounts (id, sandbox, max_file_size, allowed_mime, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&a.id)
                .bind(a.sandbox)
                .bind(a.max_file_size)
                .bind(&a.allowed_mime)
                .bind(a.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_account(
                &self,
                id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::Account>> {
                Ok(sqlx::query_as("SELECT * FROM accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_accounts(
                &self,
            ) -> $crate::error::AppResult<Vec<$crate::meta::Account>> {
                Ok(sqlx::query_as("SELECT * FROM accounts ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn set_account_limits(
                &self,
                id: &str,
                max_file_size: Option<i64>,
                allowed_mime: Option<&str>,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE accounts SET max_file_size = $2, allowed_mime = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(max_file_size)
                .bind(allowed_mime)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn expired_sandbox_files(
                &self,
                cutoff: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT f.account_id, f.path FROM files f \
                     JOIN accounts a ON a.id = f.account_id \
                     JOIN file_versions v ON v.version_id = f.version_id \
                     WHERE a.sandbox = TRUE AND v.created_at < $1 LIMIT $2",
                )
                .bind(cutoff)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn insert_api_key(
                &self,
                k: &$crate::meta::ApiKeyRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, account_id, key_hash, key_type, name, display, \
                     rules, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&k.id)
                .bind(&k.account_id)
                .bind(&k.key_hash)
                .bind(&k.key_type)
                .bind(&k.name)
                .bind(&k.display)
                .bind(&k.rules)
                .bind(k.created_at)
                .bind(k.revoked_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_api_key(
                &self,
                key_hash: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::ApiKeyRow>> {
                Ok(sqlx::query_as("SELECT * FROM api_keys WHERE key_hash = $1")
                    .bind(key_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_api_keys(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::ApiKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL \
                     ORDER BY created_at, id",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn revoke_api_key(
                &self,
                account_id: &str,
                key_id: &str,
                now: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 \
                     WHERE account_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(account_id)
                .bind(key_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_jwt_key(
                &self,
                k: &$crate::meta::JwtKeyRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO jwt_keys (kid, account_id, alg, name, pem, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.kid)
                .bind(&k.account_id)
                .bind(&k.alg)
                .bind(&k.name)
                .bind(&k.pem)
                .bind(k.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_jwt_keys(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::JwtKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM jwt_keys WHERE account_id = $1 ORDER BY created_at, kid",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_jwt_key(
                &self,
                account_id: &str,
                kid: &str,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query("DELETE FROM jwt_keys WHERE account_id = $1 AND kid = $2")
                    .bind(account_id)
                    .bind(kid)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn get_file(
                &self,
                account_id: &str,
                path: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::FileRow>> {
                let q = format!(
                    "SELECT {} FROM files f JOIN file_versions v ON v.version_id = f.version_id \
                     WHERE f.account_id = $1 AND f.path = $2",
                    $crate::meta::sql::FILE_COLUMNS
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .bind(path)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn get_version(
                &self,
                account_id: &str,
                path: &str,
                version_id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::FileRow>> {
                let q = format!(
                    "SELECT {} FROM file_versions v \
                     WHERE v.account_id = $1 AND v.path = $2 AND v.version_id = $3",
                    $crate::meta::sql::FILE_COLUMNS
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .bind(path)
                    .bind(version_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_versions(
                &self,
                account_id: &str,
                path: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::FileRow>> {
                let q = format!(
                    "SELECT {} FROM file_versions v WHERE v.account_id = $1 AND v.path = $2 \
                     AND EXISTS (SELECT 1 FROM files f WHERE f.account_id = $1 AND f.path = $2) \
                     ORDER BY v.created_at DESC, v.version_id DESC",
                    $crate::meta::sql::FILE_COLUMNS
                );
                Ok(sqlx::query_as(&q)
                    .bind(account_id)
                    .bind(path)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn commit_file(
                &self,
                f: &$crate::meta::FileRow,
                overwrite: bool,
            ) -> $crate::error::AppResult<$crate::meta::CommitOutcome> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO file_versions (version_id, account_id, path, blob_key, size, \
                     mime, etag, original_file_name, metadata, tags, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&f.version_id)
                .bind(&f.account_id)
                .bind(&f.path)
                .bind(&f.blob_key)
                .bind(f.size)
                .bind(&f.mime)
                .bind(&f.etag)
                .bind(&f.original_file_name)
                .bind(&f.metadata)
                .bind(&f.tags)
                .bind(f.created_at)
                .execute(&mut *tx)
                .await?;
                let pointer = if overwrite {
                    "INSERT INTO files (account_id, path, parent, version_id) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id, path) DO UPDATE SET version_id = excluded.version_id"
                } else {
                    "INSERT INTO files (account_id, path, parent, version_id) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id, path) DO NOTHING"
                };
                let done = sqlx::query(pointer)
                    .bind(&f.account_id)
                    .bind(&f.path)
                    .bind($crate::meta::parent_of(&f.path))
                    .bind(&f.version_id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok($crate::meta::CommitOutcome::Exists);
                }
                for (folder, parent) in $crate::meta::ancestors(&f.path) {
                    sqlx::query(
                        "INSERT INTO folders (account_id, path, parent, explicit, settings, created_at) \
                         VALUES ($1, $2, $3, FALSE, '{}', $4) ON CONFLICT (account_id, path) DO NOTHING",
                    )
                    .bind(&f.account_id)
                    .bind(&folder)
                    .bind(&parent)
                    .bind(f.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                // The blob must still be pending: if the sweeper already took it
                // (an upload slower than the abandon TTL), nothing is committed.
                let claimed = sqlx::query("DELETE FROM blob_gc WHERE blob_key = $1")
                    .bind(&f.blob_key)
                    .execute(&mut *tx)
                    .await?;
                if claimed.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Err($crate::error::AppError::Unavailable {
                        cause: format!("blob {} was swept before its commit", f.blob_key),
                    });
                }
                let dropped: Vec<(String,)> = sqlx::query_as(
                    "DELETE FROM file_versions WHERE account_id = $1 AND path = $2 \
                     AND version_id <> $3 AND version_id NOT IN ( \
                       SELECT version_id FROM file_versions WHERE account_id = $1 AND path = $2 \
                       ORDER BY created_at DESC, version_id DESC LIMIT $4) \
                     RETURNING blob_key",
                )
                .bind(&f.account_id)
                .bind(&f.path)
                .bind(&f.version_id)
                .bind($crate::meta::MAX_VERSIONS)
                .fetch_all(&mut *tx)
                .await?;
                let dropped: Vec<String> = dropped.into_iter().map(|(k,)| k).collect();
                for key in &dropped {
                    sqlx::query($crate::meta::sql::GC_UPSERT)
                    .bind(key)
                    .bind(f.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok($crate::meta::CommitOutcome::Committed {
                    dropped_blobs: dropped,
                })
            }

            async fn delete_file(
                &self,
                account_id: &str,
                path: &str,
                now: i64,
            ) -> $crate::error::AppResult<Vec<String>> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM files WHERE account_id = $1 AND path = $2")
                    .bind(account_id)
                    .bind(path)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(Vec::new());
                }
                let keys: Vec<(String,)> = sqlx::query_as(
                    "DELETE FROM file_versions WHERE account_id = $1 AND path = $2 \
                     RETURNING blob_key",
                )
                .bind(account_id)
                .bind(path)
                .fetch_all(&mut *tx)
                .await?;
                let keys: Vec<String> = keys.into_iter().map(|(k,)| k).collect();
                for key in &keys {
                    sqlx::query($crate::meta::sql::GC_UPSERT)
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                for (folder, _) in $crate::meta::ancestors(path).iter().rev() {
                    sqlx::query($crate::meta::sql::PRUNE_FOLDER)
                        .bind(account_id)
                        .bind(folder)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(keys)
            }

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
                tx.commit().await?;
                Ok(row)
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
                let (lo, hi) = $crate::meta::subtree_range(path);
                let mut tx = self.pool.begin().await?;
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
                tx.commit().await?;
                Ok(removed)
            }

            async fn create_upload(
                &self,
                u: &$crate::meta::UploadSession,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO upload_sessions (id, account_id, status, spec, size, part_size, \
                     part_count, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&u.id)
                .bind(&u.account_id)
                .bind(&u.status)
                .bind(&u.spec)
                .bind(u.size)
                .bind(u.part_size)
                .bind(u.part_count)
                .bind(u.created_at)
                .bind(u.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_upload(
                &self,
                account_id: &str,
                id: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::UploadSession>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM upload_sessions WHERE account_id = $1 AND id = $2",
                )
                .bind(account_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn record_part(
                &self,
                p: &$crate::meta::UploadPart,
            ) -> $crate::error::AppResult<(bool, Option<String>)> {
                // No read-then-write transaction: SQLite cannot upgrade a read
                // lock under concurrent writers (SQLITE_BUSY). A racing retry
                // can at worst leave its replaced object to the GC sweep.
                let old: Option<(String,)> = sqlx::query_as(
                    "SELECT blob_key FROM upload_parts WHERE upload_id = $1 AND idx = $2",
                )
                .bind(&p.upload_id)
                .bind(p.idx)
                .fetch_optional(&self.pool)
                .await?;
                let done = sqlx::query(
                    "INSERT INTO upload_parts (upload_id, idx, etag, size, confirmed, blob_key) \
                     SELECT $1, $2, $3, $4, FALSE, $5 WHERE EXISTS (SELECT 1 FROM upload_sessions \
                     WHERE id = $1 AND status = 'open') \
                     ON CONFLICT (upload_id, idx) DO UPDATE \
                     SET confirmed = (upload_parts.confirmed AND upload_parts.etag = excluded.etag), \
                     etag = excluded.etag, size = excluded.size, blob_key = excluded.blob_key",
                )
                .bind(&p.upload_id)
                .bind(p.idx)
                .bind(&p.etag)
                .bind(p.size)
                .bind(&p.blob_key)
                .execute(&self.pool)
                .await?;
                let recorded = done.rows_affected() > 0;
                Ok((recorded, if recorded { old.map(|(k,)| k) } else { None }))
            }

            async fn confirm_part(
                &self,
                upload_id: &str,
                idx: i64,
                etag: &str,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE upload_parts SET confirmed = TRUE \
                     WHERE upload_id = $1 AND idx = $2 AND etag = $3",
                )
                .bind(upload_id)
                .bind(idx)
                .bind(etag)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_parts(
                &self,
                upload_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::UploadPart>> {
                Ok(sqlx::query_as("SELECT * FROM upload_parts WHERE upload_id = $1 ORDER BY idx")
                    .bind(upload_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn claim_upload(&self, upload_id: &str) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "UPDATE upload_sessions SET status = 'completing' WHERE id = $1 \
                     AND status = 'open' AND part_count = (SELECT COUNT(*) FROM upload_parts \
                     WHERE upload_id = $1 AND confirmed = TRUE)",
                )
                .bind(upload_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_upload_status(
                &self,
                upload_id: &str,
                status: &str,
            ) -> $crate::error::AppResult<()> {
                sqlx::query("UPDATE upload_sessions SET status = $2 WHERE id = $1")
                    .bind(upload_id)
                    .bind(status)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn expired_uploads(
                &self,
                now: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT id, account_id FROM upload_sessions WHERE expires_at <= $1 \
                     ORDER BY expires_at LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_upload(&self, upload_id: &str) -> $crate::error::AppResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
                    .bind(upload_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
                    .bind(upload_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_upload_token(
                &self,
                t: &$crate::meta::UploadTokenRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO upload_tokens (token_hash, account_id, path, max_size, mime, \
                     created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&t.token_hash)
                .bind(&t.account_id)
                .bind(&t.path)
                .bind(t.max_size)
                .bind(&t.mime)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.used_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_upload_token(
                &self,
                token_hash: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::UploadTokenRow>> {
                Ok(sqlx::query_as("SELECT * FROM upload_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn spend_upload_token(
                &self,
                token_hash: &str,
                now: i64,
            ) -> $crate::error::AppResult<$crate::meta::Spend> {
                let spent: Option<$crate::meta::UploadTokenRow> = sqlx::query_as(
                    "UPDATE upload_tokens SET used_at = $2 WHERE token_hash = $1 \
                     AND used_at IS NULL AND expires_at > $2 RETURNING *",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(row) = spent {
                    return Ok($crate::meta::Spend::Spent(row));
                }
                let row: Option<$crate::meta::UploadTokenRow> =
                    sqlx::query_as("SELECT * FROM upload_tokens WHERE token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(match row {
                    None => $crate::meta::Spend::Unknown,
                    Some(r) if r.used_at.is_some() => $crate::meta::Spend::AlreadyUsed,
                    Some(_) => $crate::meta::Spend::Expired,
                })
            }

            async fn prune_upload_tokens(&self, before: i64) -> $crate::error::AppResult<u64> {
                let done = sqlx::query("DELETE FROM upload_tokens WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn insert_signing_key(
                &self,
                k: &$crate::meta::SigningKeyRow,
            ) -> $crate::error::AppResult<()> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, account_id, name, secret_enc, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&k.kid)
                .bind(&k.account_id)
                .bind(&k.name)
                .bind(&k.secret_enc)
                .bind(k.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_signing_key(
                &self,
                kid: &str,
            ) -> $crate::error::AppResult<Option<$crate::meta::SigningKeyRow>> {
                Ok(sqlx::query_as("SELECT * FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_signing_keys(
                &self,
                account_id: &str,
            ) -> $crate::error::AppResult<Vec<$crate::meta::SigningKeyRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM signing_keys WHERE account_id = $1 ORDER BY created_at, kid",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn delete_signing_key(
                &self,
                account_id: &str,
                kid: &str,
            ) -> $crate::error::AppResult<bool> {
                let done =
                    sqlx::query("DELETE FROM signing_keys WHERE account_id = $1 AND kid = $2")
                        .bind(account_id)
                        .bind(kid)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn use_token_once(
                &self,
                token_hash: &str,
                expires_at: i64,
            ) -> $crate::error::AppResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO used_tokens (token_hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (token_hash) DO NOTHING",
                )
                .bind(token_hash)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn prune_used_tokens(&self, before: i64) -> $crate::error::AppResult<u64> {
                let done = sqlx::query("DELETE FROM used_tokens WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn gc_register(
                &self,
                blob_key: &str,
                due_at: i64,
            ) -> $crate::error::AppResult<()> {
                sqlx::query($crate::meta::sql::GC_UPSERT)
                .bind(blob_key)
                .bind(due_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn gc_due(
                &self,
                now: i64,
                limit: i64,
            ) -> $crate::error::AppResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT blob_key FROM blob_gc WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(k,)| k).collect())
            }

            async fn gc_remove(&self, blob_key: &str) -> $crate::error::AppResult<()> {
                sqlx::query("DELETE FROM blob_gc WHERE blob_key = $1")
                    .bind(blob_key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_meta_store;
