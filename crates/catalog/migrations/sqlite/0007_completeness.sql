-- Completeness certificates (schema version 7): one signed verdict per recording, written in
-- the transaction that commits the recording. `tenant_id` and `started_at` repeat the
-- recording's (which never change) so a tenant's report reads one index. `document` is the
-- signed JSON; the catalog never interprets it.
CREATE TABLE completeness_certificates (
    recording_id TEXT    NOT NULL PRIMARY KEY REFERENCES recordings (id),
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    started_at   INTEGER NOT NULL,
    verdict      TEXT    NOT NULL,
    gap_count    INTEGER NOT NULL,
    document     TEXT    NOT NULL
);
CREATE INDEX completeness_certificates_tenant
    ON completeness_certificates (tenant_id, started_at, verdict);
