-- Single-use upload tokens (SPEC §5.4). Only the token's SHA-256 is stored.
CREATE TABLE upload_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    path       TEXT NOT NULL,
    max_size   BIGINT,
    mime       TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX upload_tokens_expiry ON upload_tokens(expires_at);
