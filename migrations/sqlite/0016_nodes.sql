-- Node liveness (issue #33): each node writes its heartbeat at start and at
-- every sweep; a staged blob remembers the node that writes it, so a crash
-- leftover that no session can resume is removed at the next sweep after its
-- node is known dead, not after STOWAGE_ABANDONED_UPLOAD_TTL.
-- Keep in step with the other backend's 0016_nodes.sql.
CREATE TABLE nodes (
    node_id      TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL
);
ALTER TABLE blob_gc ADD COLUMN node_id TEXT;
