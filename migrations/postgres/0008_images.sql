-- Image transformations (SPEC §6.1).
--
-- Cached results: one object per (source version, normalised parameters).
-- A row is created in the transaction that claims its blob's GC entry, and
-- removed (its blob queued in blob_gc) in the same transaction that drops the
-- source version (overwrite pruning, delete, sandbox purge), so no result
-- outlives its source. `crop_version_id` is the `.crop` file a crop result was
-- rendered from (the input image is `source_version_id`): the result goes
-- when either goes. The foreign keys are checked at commit, so a result
-- stored while its source is being deleted fails instead of being orphaned.
CREATE TABLE derived (
    blob_key          TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL,
    source_version_id TEXT NOT NULL REFERENCES file_versions(version_id) DEFERRABLE INITIALLY DEFERRED,
    crop_version_id   TEXT REFERENCES file_versions(version_id) DEFERRABLE INITIALLY DEFERRED,
    cache_key         TEXT NOT NULL,
    size              BIGINT NOT NULL,
    mime              TEXT NOT NULL,
    etag              TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    UNIQUE (source_version_id, cache_key)
);
CREATE INDEX derived_crop ON derived(crop_version_id);
-- Storing a result checks that its source is still a current version.
CREATE INDEX files_version ON files(version_id);

-- Named parameter sets of an account: /{acc}/{preset}/{path}.
CREATE TABLE presets (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
