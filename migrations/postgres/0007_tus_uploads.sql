-- tus 1.0 resumable uploads (SPEC §5.6). One row per upload; any node can
-- continue it. `upload_offset` only moves in the UPDATE that ends a PATCH, so
-- bytes written past it (a PATCH cut by a crash) are provisional and replaced
-- by the next PATCH. `lock_token`/`lock_until` is the lease of the PATCH in
-- progress. status: open → done (kept until expires_at for HEAD).
CREATE TABLE tus_uploads (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    owner         TEXT NOT NULL,
    status        TEXT NOT NULL,
    spec          TEXT NOT NULL,
    upload_length BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL,
    blob_key      TEXT NOT NULL,
    multipart_id  TEXT,
    parts         TEXT NOT NULL,
    tail_key      TEXT,
    tail_size     BIGINT NOT NULL,
    hash_state    TEXT NOT NULL,
    lock_token    TEXT,
    lock_until    BIGINT NOT NULL,
    file_path     TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX tus_uploads_expiry ON tus_uploads(expires_at);
