-- Dashboard sessions ended by sign-out (SPEC §10), by session id, kept until
-- the session would have expired anyway (epoch ms), so that every node refuses
-- the old cookie. Rows past their expiry are removed at each sign-out.
CREATE TABLE dashboard_sessions_ended (
    session_id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_ended_expiry ON dashboard_sessions_ended(expires_at);

-- When the deployment began signing and sealing with subkeys derived from the
-- master key (HKDF-SHA256, docs/decisions.md), epoch ms. A URL signed with
-- the master key itself is accepted only if it expires within the longest URL
-- lifetime after this moment: only URLs made before the upgrade can.
CREATE TABLE master_key_epochs (
    name       TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL
);
INSERT INTO master_key_epochs (name, started_at)
VALUES ('hkdf-subkeys', CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT));
