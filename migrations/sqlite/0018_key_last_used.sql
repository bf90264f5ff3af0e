-- When each API key was last used (issue #30), to the minute: written at most
-- once a minute per key and node, off the request path (auth/authn.rs).
-- Keep in step with the other backend's 0018_key_last_used.sql.
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
