//! The SQLite backend's minimum-retention floors and expiry query. Which recordings have
//! expired is decided in Rust ([`crate::retention::retain_until`]) over pages read through the
//! partial index `recordings_retention`, so both backends apply exactly the same rule.

use async_trait::async_trait;
use model::TenantId;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{SqliteCatalog, append_entries, audit_head, one};
use crate::audit::{AuditNote, PreparedAuditEntry};
use crate::error::CatalogError;
use crate::retention::{
    ExpiredPage, ExpiryQuery, FloorChange, FloorDecision, FloorOutcome, FloorScope, Retention,
    RetentionFloor, pick_expired,
};
use crate::sqlite_read as read;
use crate::time::{from_millis, to_millis};
use crate::types::Cursor;

/// Candidates read per round trip of the expiry scan.
const SCAN_PAGE: i64 = 1_000;

fn decode(row: &sqlx::sqlite::SqliteRow) -> Result<RetentionFloor, CatalogError> {
    let days: i64 = row.try_get("minimum_days")?;
    Ok(RetentionFloor {
        tenant: read::tenant_id("retention_floors.tenant_id", row.try_get("tenant_id")?)?,
        scope: FloorScope::from_column(row.try_get("tag")?),
        minimum_days: u32::try_from(days).map_err(|_| CatalogError::Corrupt {
            column: "retention_floors.minimum_days",
            reason: format!("{days} out of range"),
        })?,
        set_at: from_millis("retention_floors.set_at", row.try_get("set_at")?)?,
        set_by: row.try_get("set_by")?,
    })
}

/// The stored floors of one tenant or all, tenant scope first.
pub(super) async fn floors_of(
    connection: &mut SqliteConnection,
    tenant: Option<&TenantId>,
) -> Result<Vec<RetentionFloor>, CatalogError> {
    let rows = sqlx::query(
        "SELECT tenant_id, tag, minimum_days, set_at, set_by FROM retention_floors \
         WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY tenant_id, tag",
    )
    .bind(tenant.map(TenantId::as_str))
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(decode).collect()
}

#[async_trait]
impl Retention for SqliteCatalog {
    async fn set_retention_floor(
        &self,
        change: &FloorChange,
    ) -> Result<FloorOutcome, CatalogError> {
        let change = change.checked()?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        if read::tenant(&mut *connection, &change.tenant)
            .await?
            .is_none()
        {
            return Err(CatalogError::NotFound {
                what: "tenant",
                id: change.tenant.to_string(),
            });
        }
        let stored = floors_of(&mut *connection, Some(&change.tenant))
            .await?
            .into_iter()
            .find(|floor| floor.scope == change.scope);
        let (action, details) = match change.decide(stored.as_ref()) {
            FloorDecision::Unchanged => return Ok(FloorOutcome::Unchanged),
            FloorDecision::Write(action, details) => {
                sqlx::query(
                    "INSERT INTO retention_floors (tenant_id, tag, minimum_days, set_at, set_by) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, tag) DO UPDATE SET \
                     minimum_days = excluded.minimum_days, set_at = excluded.set_at, \
                     set_by = excluded.set_by",
                )
                .bind(change.tenant.as_str())
                .bind(change.scope.column())
                .bind(i64::from(change.minimum_days))
                .bind(to_millis(&change.at))
                .bind(&change.actor)
                .execute(&mut *connection)
                .await?;
                (action, details)
            }
            FloorDecision::Refuse(details) => ("retention.shorten-refused", details),
        };
        let note = AuditNote::new(&change.actor, action, details);
        let prepared = PreparedAuditEntry::new(&note.entry(change.at, Some(&change.tenant), None))?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok(match (stored, action) {
            (Some(stored), "retention.shorten-refused") => FloorOutcome::Refused { stored, entry },
            (Some(stored), _) => FloorOutcome::Raised {
                previous: stored.minimum_days,
                entry,
            },
            (None, _) => FloorOutcome::Set { entry },
        })
    }

    async fn retention_floors(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<RetentionFloor>, CatalogError> {
        let mut connection = self.pool().acquire().await?;
        floors_of(&mut connection, tenant).await
    }

    async fn expired_recordings(&self, query: &ExpiryQuery) -> Result<ExpiredPage, CatalogError> {
        query.checked()?;
        let mut transaction = self.pool().begin().await?;
        let floors = floors_of(&mut transaction, Some(&query.tenant)).await?;
        let before = to_millis(&query.started_before());
        let mut after = query.after;
        let mut found = Vec::new();
        loop {
            let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
            builder.push(read::RECORDING_COLUMNS);
            // `state = 'committed'` spelled out: SQLite uses a partial index only when the
            // query repeats its condition.
            builder.push(" FROM recordings r WHERE r.state = 'committed' AND r.tenant_id = ");
            builder.push_bind(query.tenant.as_str().to_owned());
            builder.push(" AND r.started_at < ");
            builder.push_bind(before);
            if let Some(after) = &after {
                builder.push(" AND (r.started_at > ");
                builder.push_bind(after.started_at_millis);
                builder.push(" OR (r.started_at = ");
                builder.push_bind(after.started_at_millis);
                builder.push(" AND r.id > ");
                builder.push_bind(after.id.to_string());
                builder.push("))");
            }
            builder.push(" ORDER BY r.started_at, r.id LIMIT ");
            builder.push_bind(SCAN_PAGE);
            let rows = builder.build().fetch_all(&mut *transaction).await?;
            let ids = rows
                .iter()
                .map(|row| row.try_get::<String, _>("id"))
                .collect::<Result<Vec<_>, _>>()?;
            let mut tags = read::tags_of(&mut transaction, &ids).await?;
            let candidates = rows
                .iter()
                .zip(&ids)
                .map(|(row, id)| read::decode_recording(row, tags.remove(id).unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()?;
            let last = candidates.last().map(|recording| Cursor {
                started_at_millis: to_millis(&recording.started_at),
                id: recording.id,
            });
            if let Some(cut) = pick_expired(query, &floors, candidates, &mut found) {
                transaction.commit().await?;
                return Ok(ExpiredPage {
                    items: found,
                    next: Some(cut),
                });
            }
            if (rows.len() as i64) < SCAN_PAGE || last.is_none() {
                transaction.commit().await?;
                return Ok(ExpiredPage {
                    items: found,
                    next: None,
                });
            }
            after = last;
        }
    }
}
