-- Transcription jobs, one per recording (the primary key makes queueing idempotent), and the
-- sealed transcript a finished job produced. The transcript object is sealed under the
-- recording's own data key, so erasing the recording's key shreds the transcript too.
CREATE TABLE transcription_jobs (
    recording_id     TEXT    NOT NULL PRIMARY KEY REFERENCES recordings (id),
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id),
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    progress         INTEGER NOT NULL,
    failure          TEXT,
    queued_at        INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    object_key       TEXT,
    object_size      INTEGER,
    object_sha256    BLOB,
    plaintext_size   INTEGER,
    plaintext_sha256 BLOB,
    segments         INTEGER,
    model            TEXT
);
-- The queue: a tenant's queued jobs, oldest first.
CREATE INDEX transcription_jobs_queue ON transcription_jobs (tenant_id, state, queued_at, recording_id);
