-- The upload hook (SPEC §11): one per account, called before an upload's
-- bytes are read. Keep in step with the other backend's 0014_upload_hooks.sql.
CREATE TABLE upload_hooks (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    url        TEXT NOT NULL,
    -- The whsec_ secret, sealed with the master key's secrets subkey.
    secret_enc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
