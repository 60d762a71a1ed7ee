-- onrecord catalog, schema version 6: signed audit checkpoints and the transparency log.

-- A mirror of the node's signed audit checkpoints. The primary copy is the append-only file
-- DATA_DIR/audit/checkpoints.jsonl; keeping both means a checkpoint removed from one is still
-- found in the other. Rows are never updated or deleted.
CREATE TABLE audit_checkpoints (
    seq        INTEGER NOT NULL,
    hash       BLOB    NOT NULL,
    at         INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB    NOT NULL,
    PRIMARY KEY (seq, at)
);

-- The content-blind transparency log (RFC 9162 Merkle tree): one leaf per recording event,
-- derived from the audit chain in seq order. `idx` is the leaf index (from 0); the manifest is
-- the exact canonical JSON that is hashed. Rows are never updated or deleted.
CREATE TABLE transparency_leaves (
    idx          INTEGER NOT NULL PRIMARY KEY,
    audit_seq    INTEGER NOT NULL,
    recording_id TEXT    NOT NULL,
    tenant_id    TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    manifest     TEXT    NOT NULL
);
CREATE INDEX transparency_leaves_recording ON transparency_leaves (recording_id, idx);

-- How far the log has read the audit chain: one row, the last audit seq folded in.
CREATE TABLE transparency_cursor (
    id            INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    processed_seq INTEGER NOT NULL
);
INSERT INTO transparency_cursor (id, processed_seq) VALUES (1, 0);
