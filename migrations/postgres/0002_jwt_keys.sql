-- Public keys (PEM) that verify an account's RS256/ES256 JWTs.
CREATE TABLE jwt_keys (
    kid        TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    alg        TEXT NOT NULL,
    name       TEXT NOT NULL,
    pem        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX jwt_keys_account ON jwt_keys(account_id);
