-- Per-account daily activity (SPEC §7, GET …/usage/daily): counted in memory
-- by each node and added here every few seconds (never a write per request).
-- day: days since the Unix epoch (UTC).
CREATE TABLE usage_daily (
    account_id      TEXT NOT NULL,
    day             BIGINT NOT NULL,
    uploads         BIGINT NOT NULL DEFAULT 0,
    bytes_in        BIGINT NOT NULL DEFAULT 0,
    bytes_out       BIGINT NOT NULL DEFAULT 0,
    transformations BIGINT NOT NULL DEFAULT 0,
    requests        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);
