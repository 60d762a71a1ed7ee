-- onrecord catalog, schema version 1.
-- Portable on purpose (the PostgreSQL backend mirrors it): TEXT ids, INTEGER epoch
-- milliseconds for times, BLOB (bytea) for digests and keys, no SQLite-only types.

CREATE TABLE tenants (
    id             TEXT    NOT NULL PRIMARY KEY,
    region         TEXT    NOT NULL,
    consent_policy TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    legal_basis    TEXT    NOT NULL,
    retention_days INTEGER NOT NULL,
    public_key     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE recordings (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    source       TEXT    NOT NULL,
    external_id  TEXT,
    started_at   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    direction    TEXT    NOT NULL,
    content_hash BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    details      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
-- The import idempotence key.
CREATE UNIQUE INDEX recordings_tenant_content_hash ON recordings (tenant_id, content_hash);
-- Keyset pages: newest first, per tenant and across tenants.
CREATE INDEX recordings_tenant_started ON recordings (tenant_id, started_at DESC, id DESC);
CREATE INDEX recordings_started ON recordings (started_at DESC, id DESC);

CREATE TABLE recording_tags (
    recording_id TEXT NOT NULL REFERENCES recordings (id),
    tag          TEXT NOT NULL,
    PRIMARY KEY (recording_id, tag)
);
CREATE INDEX recording_tags_tag ON recording_tags (tag, recording_id);

CREATE TABLE participants (
    recording_id TEXT    NOT NULL REFERENCES recordings (id),
    ordinal      INTEGER NOT NULL,
    address      TEXT    NOT NULL,
    name         TEXT,
    role         TEXT    NOT NULL,
    PRIMARY KEY (recording_id, ordinal)
);

CREATE TABLE consent_evidence (
    recording_id TEXT    NOT NULL,
    ordinal      INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    at           INTEGER,
    reference    TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    PRIMARY KEY (recording_id, ordinal, position),
    FOREIGN KEY (recording_id, ordinal) REFERENCES participants (recording_id, ordinal)
);

CREATE TABLE streams (
    recording_id     TEXT    NOT NULL REFERENCES recordings (id),
    label            TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    codec            TEXT    NOT NULL,
    duration_ms      INTEGER NOT NULL,
    plaintext_size   INTEGER NOT NULL,
    plaintext_sha256 BLOB    NOT NULL,
    object_key       TEXT    NOT NULL,
    object_size      INTEGER NOT NULL,
    object_sha256    BLOB    NOT NULL,
    region           TEXT    NOT NULL,
    PRIMARY KEY (recording_id, label)
);

-- Sealed data keys live here and nowhere else: deleting a row crypto-shreds the recording.
CREATE TABLE sealed_keys (
    recording_id TEXT NOT NULL PRIMARY KEY REFERENCES recordings (id),
    sealed_key   BLOB NOT NULL
);

CREATE TABLE refusals (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    at           INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    content_hash BLOB,
    client_name  TEXT
);
CREATE INDEX refusals_tenant_reason ON refusals (tenant_id, reason);

-- The hash chain. No foreign keys: the log outlives what it mentions.
CREATE TABLE audit_log (
    seq          INTEGER NOT NULL PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    tenant_id    TEXT,
    recording_id TEXT,
    details      TEXT    NOT NULL,
    prev_hash    BLOB    NOT NULL,
    hash         BLOB    NOT NULL
);
CREATE INDEX audit_log_recording ON audit_log (recording_id, seq);
