-- API tokens (schema version 4). Only a SHA-256 digest of each token's secret is kept: a
-- stolen catalog yields no usable token. `tenant_id` is NULL for operator tokens, which see
-- content-blind figures only. Revoking sets `revoked_at`; rows are kept for the audit trail.
CREATE TABLE api_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    secret_hash BLOB    NOT NULL,
    tenant_id   TEXT    REFERENCES tenants (id),
    role        TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- The participant-address filter of the recordings search uses `participants_address`,
-- created by 0002_governance.sql.
