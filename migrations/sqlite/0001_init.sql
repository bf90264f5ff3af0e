-- stowage schema v1 (SQLite). Keep in step with migrations/postgres/0001_init.sql.
-- Times are Unix epoch milliseconds (BIGINT) so both backends decode them the same way.
-- Paths compare bytewise (PostgreSQL: COLLATE "C"; SQLite's default), so ORDER BY
-- path and prefix ranges mean the same on both.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    sandbox       BOOLEAN NOT NULL DEFAULT FALSE,
    max_file_size BIGINT,
    allowed_mime  TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    key_hash   TEXT NOT NULL UNIQUE,
    key_type   TEXT NOT NULL,
    name       TEXT NOT NULL,
    display    TEXT NOT NULL,
    rules      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_account ON api_keys(account_id);

-- Every stored object, current or older. A file's history is its rows here.
CREATE TABLE file_versions (
    version_id         TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    path               TEXT NOT NULL,
    blob_key           TEXT NOT NULL,
    size               BIGINT NOT NULL,
    mime               TEXT NOT NULL,
    etag               TEXT NOT NULL,
    original_file_name TEXT,
    metadata           TEXT NOT NULL,
    tags               TEXT NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX file_versions_path ON file_versions(account_id, path, created_at);

-- The visible file at each path: a pointer to its current version.
CREATE TABLE files (
    account_id TEXT NOT NULL,
    path       TEXT NOT NULL,
    parent     TEXT NOT NULL,
    version_id TEXT NOT NULL,
    PRIMARY KEY (account_id, path)
);
CREATE INDEX files_parent ON files(account_id, parent, path);

-- Folders: implicit ones (parents of files, explicit = FALSE, removed when
-- empty) and explicit ones (PutFolder). settings is a JSON object of the
-- folder's own settings ('{}' when none).
CREATE TABLE folders (
    account_id TEXT NOT NULL,
    path       TEXT NOT NULL,
    parent     TEXT NOT NULL,
    explicit   BOOLEAN NOT NULL,
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, path)
);
CREATE INDEX folders_parent ON folders(account_id, parent, path);

-- Multipart (resumable) uploads: the session, and each part as it arrives.
-- status: open → completing → done (or failed).
CREATE TABLE upload_sessions (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    spec       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    part_size  BIGINT NOT NULL,
    part_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX upload_sessions_expiry ON upload_sessions(expires_at);

CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL,
    idx       BIGINT NOT NULL,
    etag      TEXT NOT NULL,
    size      BIGINT NOT NULL,
    confirmed BOOLEAN NOT NULL,
    -- Each PUT attempt is its own object; the row names the current one.
    blob_key  TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx)
);

-- Blobs that may need deleting: written before an upload streams (due in 24 h,
-- removed in the commit transaction) and when a file or version is dropped (due now).
CREATE TABLE blob_gc (
    blob_key TEXT PRIMARY KEY,
    due_at   BIGINT NOT NULL
);
CREATE INDEX blob_gc_due ON blob_gc(due_at);
