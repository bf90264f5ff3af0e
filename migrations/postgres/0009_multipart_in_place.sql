-- Multipart uploads whose parts go straight into the final object (issue #16):
-- the object's key and, on S3/GCS/Azure, the store's multipart upload id;
-- per part, the store's part id (S3's ETag) for CompleteMultipartUpload.
ALTER TABLE upload_sessions ADD COLUMN blob_key TEXT;
ALTER TABLE upload_sessions ADD COLUMN multipart_id TEXT;
ALTER TABLE upload_parts ADD COLUMN store_part TEXT;
