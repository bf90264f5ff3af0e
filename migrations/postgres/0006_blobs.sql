-- Integrity and deduplication (SPEC §5, RFC 9530). Keep in step with ../sqlite/0006_blobs.sql.
--
-- file_versions.sha256: the whole file's SHA-256 (lower-case hex) once known.
-- It is set at commit for streamed uploads; NULL for a version whose bytes were
-- never hashed whole (the background digest pass fills it in). Every route so
-- far stored the whole file's SHA-256 as its etag, so those are copied over.
ALTER TABLE file_versions ADD COLUMN sha256 TEXT;
UPDATE file_versions SET sha256 = etag WHERE length(etag) = 64;
CREATE INDEX file_versions_blob ON file_versions(blob_key);

-- Every object a file version uses, counted by reference. Within an account,
-- identical bytes (same SHA-256) are one object: (account_id, sha256) is
-- unique. sha256 is NULL while unknown, or for an older duplicate that
-- predates deduplication (still counted, never a dedup target).
-- Invariant (kept in the same transactions as file_versions):
--   refs = the number of file_versions rows whose blob_key is this one;
--   a row reaching refs = 0 is deleted and its object queued in blob_gc.
CREATE TABLE blobs (
    blob_key   TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    sha256     TEXT,
    size       BIGINT NOT NULL,
    refs       BIGINT NOT NULL
);
CREATE UNIQUE INDEX blobs_content ON blobs(account_id, sha256);
-- What the background digest pass still has to read.
CREATE INDEX blobs_unhashed ON blobs(blob_key) WHERE sha256 IS NULL;

INSERT INTO blobs (blob_key, account_id, sha256, size, refs)
SELECT blob_key, MIN(account_id), NULL, MAX(size), COUNT(*)
FROM file_versions GROUP BY blob_key;

UPDATE blobs SET sha256 = (
    SELECT MIN(v.sha256) FROM file_versions v WHERE v.blob_key = blobs.blob_key
) WHERE blob_key IN (
    SELECT MIN(v.blob_key) FROM file_versions v
    WHERE v.sha256 IS NOT NULL GROUP BY v.account_id, v.sha256
);
