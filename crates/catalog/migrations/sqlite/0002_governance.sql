-- onrecord catalog, schema version 2: governance.
-- Legal holds: a hold covers one recording, every recording (past and future) of one
-- participant address, or every recording of a tenant matching a query (time range, tag).
-- A hold is never deleted: release stamps it, so the history of holds stays readable.
CREATE TABLE legal_holds (
    id                  INTEGER NOT NULL PRIMARY KEY,
    tenant_id           TEXT    NOT NULL REFERENCES tenants (id),
    kind                TEXT    NOT NULL,
    recording_id        TEXT,
    participant_address TEXT,
    started_from        INTEGER,
    started_before      INTEGER,
    tag                 TEXT,
    reason              TEXT    NOT NULL,
    holder              TEXT    NOT NULL,
    placed_at           INTEGER NOT NULL,
    released_at         INTEGER,
    released_by         TEXT,
    release_reason      TEXT
);
CREATE INDEX legal_holds_tenant_active ON legal_holds (tenant_id, released_at);

-- Subject access and erasure find a person's recordings by address.
CREATE INDEX participants_address ON participants (address, recording_id);
