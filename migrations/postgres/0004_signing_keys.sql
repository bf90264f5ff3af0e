-- Signing keys for client-side ImageKit-style uploads (SPEC §5.5). The secret
-- must be usable for HMAC, so it is stored encrypted (AES-256-GCM) with the
-- server's master key: hex(nonce || ciphertext).
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signing_keys_account ON signing_keys(account_id);

-- Client upload tokens already accepted (by SHA-256), kept until they expire,
-- so every node refuses a replay.
CREATE TABLE used_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_tokens_expiry ON used_tokens(expires_at);
