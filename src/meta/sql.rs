//! The SQL both backends share. PostgreSQL and SQLite (≥ 3.35) both accept `$N`
//! parameters, `ON CONFLICT … DO UPDATE/NOTHING` and `RETURNING`, and the schema
//! uses only types both decode alike (TEXT, BIGINT, BOOLEAN), so one body of
//! queries serves both; `impl_meta_store!` instantiates it for each pool type.

pub(super) const FILE_COLUMNS: &str = "v.account_id, v.path, v.version_id, v.blob_key, v.size, \
     v.mime, v.etag, v.original_file_name, v.metadata, v.tags, v.created_at, v.sha256";

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

/// Records a new version (`$1`…`$12` in [`FILE_COLUMNS`] order, id first).
pub(super) const INSERT_VERSION: &str = "INSERT INTO file_versions (version_id, account_id, path, \
     blob_key, size, mime, etag, original_file_name, metadata, tags, created_at, sha256) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// Makes folder `$2` (parent `$3`) exist implicitly, unless it already exists.
pub(super) const INSERT_IMPLICIT_FOLDER: &str = "INSERT INTO folders (account_id, path, parent, \
     explicit, settings, created_at) VALUES ($1, $2, $3, FALSE, '{}', $4) \
     ON CONFLICT (account_id, path) DO NOTHING";

/// Drops the versions of `$2` beyond the newest `$4` (never `$3`, the one just
/// committed), returning their blob keys, ids and sizes.
pub(super) const PRUNE_VERSIONS: &str = "DELETE FROM file_versions WHERE account_id = $1 \
     AND path = $2 AND version_id <> $3 AND version_id NOT IN ( \
       SELECT version_id FROM file_versions WHERE account_id = $1 AND path = $2 \
       ORDER BY created_at DESC, version_id DESC LIMIT $4) \
     RETURNING blob_key, version_id, size";

/// Drops the cached transformation results of version `$1` (rendered from
/// it, or cropped by it), returning their blob keys for the GC queue, their
/// accounts and sizes (`account_usage.stored_bytes`).
pub(super) const DROP_DERIVED: &str = "DELETE FROM derived \
     WHERE source_version_id = $1 OR crop_version_id = $1 RETURNING blob_key, account_id, size";

/// Drops the cached transformation results of every version of `$2` but
/// `$3` (the one just made current), returning their blob keys (with
/// accounts and sizes, as `DROP_DERIVED`): only current
/// versions are transformed, so an overwrite ends the old one's results.
pub(super) const DROP_STALE_DERIVED: &str = "DELETE FROM derived WHERE \
     source_version_id IN (SELECT version_id FROM file_versions \
       WHERE account_id = $1 AND path = $2 AND version_id <> $3) \
     OR crop_version_id IN (SELECT version_id FROM file_versions \
       WHERE account_id = $1 AND path = $2 AND version_id <> $3) \
     RETURNING blob_key, account_id, size";
