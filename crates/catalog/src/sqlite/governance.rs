//! The SQLite backend's legal holds and erasure. Coverage is decided in Rust by
//! [`Hold::covers`] over the tenant's active holds (few per tenant), so both backends apply
//! exactly the same rule.

use std::collections::HashMap;

use async_trait::async_trait;
use model::{Pii, RecordingId, TenantId};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{SqliteCatalog, append_entries, audit_head, one};
use crate::audit::{AuditEntry, AuditNote, PreparedAuditEntry};
use crate::error::CatalogError;
use crate::governance::{
    Governance, Hold, HoldRelease, HoldScope, NewHold, ShredOutcome, ShredRequest, held, pseudonym,
};
use crate::retention::{RetentionFloor, check_floor};
use crate::sqlite_read as read;
use crate::time::{from_millis, to_millis, truncate_millis};
use crate::types::{MAX_BATCH, RecordingState};

macro_rules! hold_columns {
    () => {
        "id, tenant_id, kind, recording_id, participant_address, started_from, started_before, \
         tag, reason, holder, placed_at, released_at, released_by, release_reason"
    };
}

fn corrupt(column: &'static str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Corrupt {
        column,
        reason: reason.into(),
    }
}

fn hold_from_row(row: &SqliteRow) -> Result<Hold, CatalogError> {
    let optional_time = |column: &'static str| -> Result<_, CatalogError> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|millis| from_millis(column, millis))
            .transpose()
    };
    let kind: String = row.try_get("kind")?;
    let scope = match kind.as_str() {
        "recording" => {
            let id: Option<String> = row.try_get("recording_id")?;
            let id = id.ok_or_else(|| corrupt("legal_holds.recording_id", "missing"))?;
            HoldScope::Recording(
                id.parse()
                    .map_err(|_| corrupt("legal_holds.recording_id", "not a recording id"))?,
            )
        }
        "participant" => {
            let address: Option<String> = row.try_get("participant_address")?;
            HoldScope::Participant(Pii::new(
                address.ok_or_else(|| corrupt("legal_holds.participant_address", "missing"))?,
            ))
        }
        "query" => HoldScope::Query {
            started_from: optional_time("started_from")?,
            started_before: optional_time("started_before")?,
            tag: row.try_get("tag")?,
        },
        other => return Err(corrupt("legal_holds.kind", format!("unknown kind {other}"))),
    };
    let released = match optional_time("released_at")? {
        None => None,
        Some(at) => Some(HoldRelease {
            by: row
                .try_get::<Option<String>, _>("released_by")?
                .unwrap_or_default(),
            reason: row
                .try_get::<Option<String>, _>("release_reason")?
                .unwrap_or_default(),
            at,
        }),
    };
    Ok(Hold {
        id: read::unsigned("legal_holds.id", row.try_get("id")?)?,
        tenant: read::tenant_id("legal_holds.tenant_id", row.try_get("tenant_id")?)?,
        scope,
        reason: row.try_get("reason")?,
        holder: row.try_get("holder")?,
        placed_at: from_millis("legal_holds.placed_at", row.try_get("placed_at")?)?,
        released,
    })
}

async fn active_holds_of(
    connection: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<Vec<Hold>, CatalogError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM legal_holds WHERE tenant_id = $1 AND released_at IS NULL ORDER BY id"
    ))
    .bind(tenant.as_str())
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(hold_from_row).collect()
}

/// The active holds covering a recording, read on `connection` (inside a write transaction
/// when the caller is about to erase).
pub(super) async fn holds_covering(
    connection: &mut SqliteConnection,
    id: &RecordingId,
) -> Result<Vec<Hold>, CatalogError> {
    let Some(detail) = read::detail(&mut *connection, None, id).await? else {
        return Ok(Vec::new());
    };
    let holds = active_holds_of(&mut *connection, &detail.recording.tenant).await?;
    Ok(holds
        .into_iter()
        .filter(|hold| hold.covers(&detail))
        .collect())
}

fn scope_recording(scope: &HoldScope) -> Option<RecordingId> {
    match scope {
        HoldScope::Recording(id) => Some(*id),
        _ => None,
    }
}

#[async_trait]
impl Governance for SqliteCatalog {
    async fn place_hold(&self, hold: &NewHold) -> Result<(Hold, AuditEntry), CatalogError> {
        let hold = hold.checked()?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        if read::tenant(&mut *connection, &hold.tenant)
            .await?
            .is_none()
        {
            return Err(CatalogError::NotFound {
                what: "tenant",
                id: hold.tenant.to_string(),
            });
        }
        if let HoldScope::Recording(id) = &hold.scope
            && read::detail(&mut *connection, Some(&hold.tenant), id)
                .await?
                .is_none()
        {
            return Err(CatalogError::NotFound {
                what: "recording",
                id: id.to_string(),
            });
        }
        let (address, from, before, tag) = match &hold.scope {
            HoldScope::Recording(_) => (None, None, None, None),
            HoldScope::Participant(address) => {
                (Some(address.dangerous_reveal().clone()), None, None, None)
            }
            HoldScope::Query {
                started_from,
                started_before,
                tag,
            } => (
                None,
                started_from.as_ref().map(to_millis),
                started_before.as_ref().map(to_millis),
                tag.clone(),
            ),
        };
        let result = sqlx::query(
            "INSERT INTO legal_holds (tenant_id, kind, recording_id, participant_address, \
             started_from, started_before, tag, reason, holder, placed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(hold.tenant.as_str())
        .bind(hold.scope.kind())
        .bind(scope_recording(&hold.scope).map(|id| id.to_string()))
        .bind(address)
        .bind(from)
        .bind(before)
        .bind(tag)
        .bind(&hold.reason)
        .bind(&hold.holder)
        .bind(to_millis(&hold.at))
        .execute(&mut *connection)
        .await?;
        let stored = Hold {
            id: read::unsigned("legal_holds.id", result.last_insert_rowid())?,
            tenant: hold.tenant.clone(),
            scope: hold.scope.clone(),
            reason: hold.reason.clone(),
            holder: hold.holder.clone(),
            placed_at: hold.at,
            released: None,
        };
        let note = AuditNote::new(&hold.holder, "hold.placed", stored.audit_details());
        let recording = scope_recording(&stored.scope);
        let prepared =
            PreparedAuditEntry::new(&note.entry(hold.at, Some(&hold.tenant), recording.as_ref()))?;
        let mut head = audit_head(&mut *connection).await?;
        let entry = one(append_entries(&mut *connection, &mut head, vec![prepared]).await?)?;
        write.transaction.commit().await?;
        Ok((stored, entry))
    }

    async fn release_holds(
        &self,
        tenant: &TenantId,
        scope: &HoldScope,
        release: &HoldRelease,
    ) -> Result<Vec<Hold>, CatalogError> {
        let release = release.checked()?;
        let scope = scope.normalized()?;
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let matching: Vec<Hold> = active_holds_of(&mut *connection, tenant)
            .await?
            .into_iter()
            .filter(|hold| hold.scope == scope)
            .collect();
        if matching.is_empty() {
            return Err(CatalogError::NotFound {
                what: "active hold",
                id: format!("{tenant}/{}", scope.kind()),
            });
        }
        let mut released = Vec::with_capacity(matching.len());
        let mut prepared = Vec::with_capacity(matching.len());
        for mut hold in matching {
            sqlx::query(
                "UPDATE legal_holds SET released_at = $1, released_by = $2, release_reason = $3 \
                 WHERE id = $4",
            )
            .bind(to_millis(&release.at))
            .bind(&release.by)
            .bind(&release.reason)
            .bind(i64::try_from(hold.id).map_err(|_| corrupt("legal_holds.id", "too large"))?)
            .execute(&mut *connection)
            .await?;
            hold.released = Some(release.clone());
            let mut details = hold.audit_details();
            details["release_reason"] = serde_json::json!(release.reason);
            let note = AuditNote::new(&release.by, "hold.released", details);
            let recording = scope_recording(&hold.scope);
            prepared.push(PreparedAuditEntry::new(&note.entry(
                release.at,
                Some(tenant),
                recording.as_ref(),
            ))?);
            released.push(hold);
        }
        let mut head = audit_head(&mut *connection).await?;
        append_entries(&mut *connection, &mut head, prepared).await?;
        write.transaction.commit().await?;
        Ok(released)
    }

    async fn holds(
        &self,
        tenant: Option<&TenantId>,
        include_released: bool,
    ) -> Result<Vec<Hold>, CatalogError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM legal_holds WHERE ($1 IS NULL OR tenant_id = $1) \
             AND ($2 OR released_at IS NULL) ORDER BY id"
        ))
        .bind(tenant.map(TenantId::as_str))
        .bind(include_released)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(hold_from_row).collect()
    }

    async fn holds_covering(&self, id: &RecordingId) -> Result<Vec<Hold>, CatalogError> {
        let mut transaction = self.pool().begin().await?;
        let holds = holds_covering(&mut transaction, id).await?;
        transaction.commit().await?;
        Ok(holds)
    }

    async fn recordings_with_participant(
        &self,
        tenant: &TenantId,
        address: &Pii<String>,
    ) -> Result<Vec<RecordingId>, CatalogError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT r.id, r.started_at FROM participants p \
             JOIN recordings r ON r.id = p.recording_id \
             WHERE p.address = $1 AND r.tenant_id = $2 ORDER BY r.started_at, r.id",
        )
        .bind(address.dangerous_reveal())
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| corrupt("recordings.id", "not a recording id"))
            })
            .collect()
    }

    async fn shred_recordings(
        &self,
        requests: &[ShredRequest],
    ) -> Result<Vec<Result<ShredOutcome, CatalogError>>, CatalogError> {
        if requests.len() > MAX_BATCH {
            return Err(CatalogError::Invalid("batch too large".into()));
        }
        let mut write = self.begin_write().await?;
        let connection = &mut *write.transaction;
        let mut rules = HashMap::new();
        let mut head = audit_head(&mut *connection).await?;
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.push(shred_one(&mut *connection, request, &mut rules, &mut head).await?);
        }
        write.transaction.commit().await?;
        Ok(results)
    }
}

/// What may block erasing a tenant's recordings, read once per tenant and batch (inside the
/// erasing transaction, so nothing changes under it).
struct Blockers {
    holds: Vec<Hold>,
    floors: Vec<RetentionFloor>,
}

/// One erasure inside the batch's transaction. The inner error refuses this recording only,
/// before anything of it is written.
async fn shred_one(
    connection: &mut SqliteConnection,
    request: &ShredRequest,
    rules: &mut HashMap<TenantId, Blockers>,
    head: &mut (u64, [u8; 32]),
) -> Result<Result<ShredOutcome, CatalogError>, CatalogError> {
    let at = truncate_millis(&request.at);
    let id = request.recording;
    let Some(detail) = read::detail(&mut *connection, None, &id).await? else {
        return Ok(Err(CatalogError::NotFound {
            what: "recording",
            id: id.to_string(),
        }));
    };
    let next = match detail
        .recording
        .state
        .transition(id, RecordingState::Erased)
    {
        Ok(next) => next,
        Err(conflict) => return Ok(Err(conflict.into())),
    };
    let tenant = detail.recording.tenant.clone();
    if !rules.contains_key(&tenant) {
        let blockers = Blockers {
            holds: active_holds_of(&mut *connection, &tenant).await?,
            floors: super::retention::floors_of(&mut *connection, Some(&tenant)).await?,
        };
        rules.insert(tenant.clone(), blockers);
    }
    if let Some(blockers) = rules.get(&tenant) {
        let holds: Vec<Hold> = blockers
            .holds
            .iter()
            .filter(|hold| hold.covers(&detail))
            .cloned()
            .collect();
        if !holds.is_empty() {
            return Ok(Err(held(id, &holds)));
        }
        if let Err(conflict) = check_floor(&blockers.floors, &detail.recording, at) {
            return Ok(Err(conflict.into()));
        }
    }
    let prepared = match PreparedAuditEntry::new(&request.audit.entry(at, Some(&tenant), Some(&id)))
    {
        Ok(prepared) => prepared,
        Err(error) => return Ok(Err(error)),
    };
    let id_text = id.to_string();
    let sealed_key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed_key FROM sealed_keys WHERE recording_id = $1")
            .bind(&id_text)
            .fetch_optional(&mut *connection)
            .await?;
    let sealed_key_sha256: [u8; 32] = Sha256::digest(sealed_key.unwrap_or_default()).into();
    // The sealed key goes first: from here on no copy of the recording can be opened.
    sqlx::query("DELETE FROM sealed_keys WHERE recording_id = $1")
        .bind(&id_text)
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE recordings SET state = $1 WHERE id = $2")
        .bind(next.as_str())
        .bind(&id_text)
        .execute(&mut *connection)
        .await?;
    for participant in &detail.participants {
        sqlx::query(
            "UPDATE participants SET address = $1, name = NULL \
             WHERE recording_id = $2 AND ordinal = $3",
        )
        .bind(pseudonym(
            &request.pseudonym_salt,
            participant.address.dangerous_reveal(),
        ))
        .bind(&id_text)
        .bind(i64::from(participant.ordinal))
        .execute(&mut *connection)
        .await?;
    }
    let entry = one(append_entries(&mut *connection, head, vec![prepared]).await?)?;
    Ok(Ok(ShredOutcome {
        tenant,
        entry,
        sealed_key_sha256,
        streams: detail.streams,
        participants_pseudonymised: detail.participants.len(),
    }))
}
