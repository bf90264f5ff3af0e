-- What probing a source version found (SPEC §6.1): its format and size from
-- the header, or why its first 256 KiB are not a readable image (415). A
-- repeat request neither reads the file nor decides again. The row goes
-- with its version (ON DELETE CASCADE: overwrite pruning, delete, sandbox
-- purge), like the version's cached results.
CREATE TABLE image_probes (
    version_id TEXT PRIMARY KEY REFERENCES file_versions(version_id) ON DELETE CASCADE,
    format     TEXT,
    width      BIGINT NOT NULL,
    height     BIGINT NOT NULL,
    error      TEXT,
    created_at BIGINT NOT NULL
);
