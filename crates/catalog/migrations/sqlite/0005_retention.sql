-- onrecord catalog, schema version 5: minimum retention.
-- A floor is a number of days during which no recording it covers can be erased (SEC rule
-- 17a-4(f), MiFID II art. 16(7)). `tag` is '' for the floor of every recording of the tenant
-- (a real tag is never empty), else the floor of the tenant's recordings with that tag.
-- Floors are only ever raised: the catalog refuses a lower value and audits the refusal, and
-- the triggers below refuse lowering or deleting one even through raw SQL.
CREATE TABLE retention_floors (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
    tag          TEXT    NOT NULL,
    minimum_days INTEGER NOT NULL,
    set_at       INTEGER NOT NULL,
    set_by       TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, tag)
);

CREATE TRIGGER retention_floors_never_lowered
BEFORE UPDATE OF minimum_days ON retention_floors
WHEN NEW.minimum_days < OLD.minimum_days
BEGIN
    SELECT RAISE(ABORT, 'minimum retention cannot be shortened');
END;

CREATE TRIGGER retention_floors_never_deleted
BEFORE DELETE ON retention_floors
BEGIN
    SELECT RAISE(ABORT, 'minimum retention cannot be removed');
END;

-- The retention sweeper walks a tenant's committed recordings oldest first. Erased rows stay
-- for ever (metadata outlives content), so the index leaves them out.
CREATE INDEX recordings_retention ON recordings (tenant_id, started_at, id)
    WHERE state = 'committed';
