-- Webhooks and their outbox (SPEC §11). Keep in step with migrations/sqlite/0012_events.sql.
-- An event row and one delivery row per matching webhook are written in the
-- same transaction as the change they report (meta/webhooks.rs); the delivery
-- worker (domain/events/) leases due deliveries, one node per attempt.

CREATE TABLE webhooks (
    webhook_id  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    url         TEXT NOT NULL,
    -- JSON array of event types, or ["*"].
    events      TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The whsec_ secret, sealed with the master key's secrets subkey.
    secret_enc  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks(account_id);

-- The outbox: what happened, once per event.
CREATE TABLE events (
    event_id   TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    type       TEXT NOT NULL,
    -- JSON object: the body's "data" (fileUrl is added when it is sent).
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One per (webhook, event): where its delivery stands.
CREATE TABLE deliveries (
    delivery_id     TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(webhook_id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES events(event_id),
    -- pending, delivered or failed.
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    -- The node making the current attempt, and until when it may.
    lease_owner     TEXT,
    lease_until     BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_webhook ON deliveries(webhook_id);
CREATE INDEX deliveries_event ON deliveries(event_id);

-- Every attempt made, for GET …/webhooks/{id}/deliveries.
CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(delivery_id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    webhook_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    -- delivered, retrying or failed.
    outcome     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_webhook ON delivery_attempts(webhook_id, at);
