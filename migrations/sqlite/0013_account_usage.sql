-- Quotas and usage (SPEC §12). Keep in step with the other backend's 0013.
--
-- accounts.max_storage_bytes / max_files: the account's quotas; NULL is the
-- default (unlimited for a live account, the sandbox quota for a sandbox one:
-- see meta/usage.rs SANDBOX_MAX_*).
ALTER TABLE accounts ADD COLUMN max_storage_bytes BIGINT;
ALTER TABLE accounts ADD COLUMN max_files BIGINT;

-- What each account stores, kept in the transactions that change it:
--   files        = its rows in files (current files),
--   versions     = its rows in file_versions (every kept version),
--   bytes        = the sum of those versions' sizes (what maxStorageBytes bounds),
--   stored_bytes = the sum of its blobs' sizes (each deduplicated object once).
-- Commits add with a conditional UPDATE that refuses to pass a quota, so
-- concurrent uploads on any number of nodes cannot pass it together.
-- `stowage accounts usage --account A --recount` rebuilds a row.
CREATE TABLE account_usage (
    account_id   TEXT PRIMARY KEY,
    files        BIGINT NOT NULL DEFAULT 0,
    versions     BIGINT NOT NULL DEFAULT 0,
    bytes        BIGINT NOT NULL DEFAULT 0,
    stored_bytes BIGINT NOT NULL DEFAULT 0
);

INSERT INTO account_usage (account_id, files, versions, bytes, stored_bytes)
SELECT a.id,
    (SELECT COUNT(*) FROM files f WHERE f.account_id = a.id),
    (SELECT COUNT(*) FROM file_versions v WHERE v.account_id = a.id),
    (SELECT CAST(COALESCE(SUM(v.size), 0) AS BIGINT) FROM file_versions v WHERE v.account_id = a.id),
    (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b WHERE b.account_id = a.id)
FROM accounts a;
