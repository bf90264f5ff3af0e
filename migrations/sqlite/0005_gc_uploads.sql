-- Store-side multipart uploads (S3, GCS, Azure) in progress for a staged blob:
-- written before the first part is sent, removed when the upload completes or
-- is aborted. What a crash leaves here, the sweeper aborts with the blob.
CREATE TABLE blob_gc_uploads (
    blob_key   TEXT PRIMARY KEY,
    upload_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
