//! The SQLite side of API tokens and of the content-blind coverage figures.

use model::TenantId;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::error::CatalogError;
use crate::sqlite_read::{digest, tenant_id, unsigned};
use crate::time::{from_millis, to_millis};
use crate::tokens::{ApiToken, EvidenceCoverage, TokenRole};

pub(crate) async fn insert(
    connection: &mut SqliteConnection,
    token: &ApiToken,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO api_tokens (id, secret_hash, tenant_id, role, label, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&token.id)
    .bind(token.secret_hash.as_slice())
    .bind(
        token
            .tenant
            .as_ref()
            .map(|tenant| tenant.as_str().to_owned()),
    )
    .bind(token.role.as_str())
    .bind(&token.label)
    .bind(to_millis(&token.created_at))
    .bind(token.revoked_at.as_ref().map(to_millis))
    .execute(connection)
    .await?;
    Ok(())
}

fn decode(row: &SqliteRow) -> Result<ApiToken, CatalogError> {
    let role: String = row.try_get("role")?;
    let tenant: Option<String> = row.try_get("tenant_id")?;
    let revoked: Option<i64> = row.try_get("revoked_at")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        secret_hash: digest("api_tokens.secret_hash", row.try_get("secret_hash")?)?,
        tenant: tenant
            .map(|tenant| tenant_id("api_tokens.tenant_id", tenant))
            .transpose()?,
        role: TokenRole::parse(&role).ok_or_else(|| CatalogError::Corrupt {
            column: "api_tokens.role",
            reason: format!("unknown role {role:?}"),
        })?,
        label: row.try_get("label")?,
        created_at: from_millis("api_tokens.created_at", row.try_get("created_at")?)?,
        revoked_at: revoked
            .map(|at| from_millis("api_tokens.revoked_at", at))
            .transpose()?,
    })
}

pub(crate) async fn token(
    connection: &mut SqliteConnection,
    id: &str,
) -> Result<Option<ApiToken>, CatalogError> {
    let row = sqlx::query(
        "SELECT id, secret_hash, tenant_id, role, label, created_at, revoked_at \
         FROM api_tokens WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(connection)
    .await?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn coverage(
    connection: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<EvidenceCoverage, CatalogError> {
    let row = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM recordings r WHERE r.tenant_id = $1) AS recordings, \
           (SELECT COUNT(*) FROM participants p JOIN recordings r ON r.id = p.recording_id \
              WHERE r.tenant_id = $1) AS participants, \
           (SELECT COUNT(*) FROM participants p JOIN recordings r ON r.id = p.recording_id \
              WHERE r.tenant_id = $1 AND EXISTS (SELECT 1 FROM consent_evidence e \
                WHERE e.recording_id = p.recording_id AND e.ordinal = p.ordinal)) AS covered",
    )
    .bind(tenant.as_str())
    .fetch_one(connection)
    .await?;
    Ok(EvidenceCoverage {
        recordings: unsigned("recordings.count", row.try_get("recordings")?)?,
        participants: unsigned("participants.count", row.try_get("participants")?)?,
        covered_participants: unsigned("participants.covered", row.try_get("covered")?)?,
    })
}
