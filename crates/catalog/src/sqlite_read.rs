//! Reads of the SQLite backend and the decoding of stored rows into typed values. A stored
//! value that does not parse is [`CatalogError::Corrupt`], never a panic.

use std::collections::HashMap;

use model::{
    ConsentEvidence, ConsentKind, ConsentPolicy, Direction, EvidenceSource, Pii, RecordingId,
    RegionId, StreamLabel, TenantId,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::audit::{AuditBreak, AuditEntry, AuditSummary, AuditVerifier, StoredAuditEntry};
use crate::error::CatalogError;
use crate::time::{from_millis, to_millis};
use crate::types::{
    Cursor, Page, Participant, Recording, RecordingDetail, RecordingFilter, RecordingSource,
    RecordingState, Sha256Digest, Stream, Tenant,
};

fn corrupt(column: &'static str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Corrupt {
        column,
        reason: reason.into(),
    }
}

pub(crate) fn unsigned(column: &'static str, value: i64) -> Result<u64, CatalogError> {
    u64::try_from(value).map_err(|_| corrupt(column, format!("{value} is negative")))
}

pub(crate) fn digest(column: &'static str, value: Vec<u8>) -> Result<Sha256Digest, CatalogError> {
    value
        .try_into()
        .map_err(|bytes: Vec<u8>| corrupt(column, format!("{} bytes, not 32", bytes.len())))
}

pub(crate) fn tenant_id(column: &'static str, value: String) -> Result<TenantId, CatalogError> {
    TenantId::new(value).map_err(|error| corrupt(column, error.to_string()))
}

fn recording_id(column: &'static str, value: &str) -> Result<RecordingId, CatalogError> {
    value
        .parse()
        .map_err(|error: model::IdError| corrupt(column, error.to_string()))
}

pub(crate) fn recording_state(value: String) -> Result<RecordingState, CatalogError> {
    RecordingState::parse(&value)
        .ok_or_else(|| corrupt("recordings.state", format!("unknown state {value:?}")))
}

fn decode_tenant(row: &SqliteRow) -> Result<Tenant, CatalogError> {
    let policy: String = row.try_get("consent_policy")?;
    let retention: i64 = row.try_get("retention_days")?;
    Ok(Tenant {
        id: tenant_id("tenants.id", row.try_get("id")?)?,
        region: RegionId::new(row.try_get::<String, _>("region")?)
            .map_err(|error| corrupt("tenants.region", error.to_string()))?,
        consent_policy: policy
            .parse::<ConsentPolicy>()
            .map_err(|error| corrupt("tenants.consent_policy", error))?,
        purpose: row.try_get("purpose")?,
        legal_basis: row.try_get("legal_basis")?,
        retention_days: u32::try_from(retention).map_err(|_| {
            corrupt(
                "tenants.retention_days",
                format!("{retention} out of range"),
            )
        })?,
        public_key: row.try_get("public_key")?,
        created_at: from_millis("tenants.created_at", row.try_get("created_at")?)?,
    })
}

pub(crate) async fn tenant(
    connection: &mut SqliteConnection,
    id: &TenantId,
) -> Result<Option<Tenant>, CatalogError> {
    let row = sqlx::query(
        "SELECT id, region, consent_policy, purpose, legal_basis, retention_days, public_key, \
         created_at FROM tenants WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(connection)
    .await?;
    row.as_ref().map(decode_tenant).transpose()
}

pub(crate) async fn tenants(
    connection: &mut SqliteConnection,
) -> Result<Vec<Tenant>, CatalogError> {
    let rows = sqlx::query(
        "SELECT id, region, consent_policy, purpose, legal_basis, retention_days, public_key, \
         created_at FROM tenants ORDER BY id",
    )
    .fetch_all(connection)
    .await?;
    rows.iter().map(decode_tenant).collect()
}

pub(crate) async fn by_content_hash(
    connection: &mut SqliteConnection,
    tenant: &TenantId,
    content_hash: &Sha256Digest,
) -> Result<Option<RecordingId>, CatalogError> {
    let row = sqlx::query("SELECT id FROM recordings WHERE tenant_id = $1 AND content_hash = $2")
        .bind(tenant.as_str())
        .bind(content_hash.as_slice())
        .fetch_optional(connection)
        .await?;
    row.map(|row| recording_id("recordings.id", row.try_get("id")?))
        .transpose()
}

pub(crate) const RECORDING_COLUMNS: &str = "r.id, r.tenant_id, r.source, r.external_id, r.started_at, \
     r.duration_ms, r.direction, r.content_hash, r.state, r.details, r.created_at";

pub(crate) fn decode_recording(
    row: &SqliteRow,
    tags: Vec<String>,
) -> Result<Recording, CatalogError> {
    let source: String = row.try_get("source")?;
    let direction: String = row.try_get("direction")?;
    let details: String = row.try_get("details")?;
    Ok(Recording {
        id: recording_id("recordings.id", row.try_get("id")?)?,
        tenant: tenant_id("recordings.tenant_id", row.try_get("tenant_id")?)?,
        source: RecordingSource::parse(&source)
            .ok_or_else(|| corrupt("recordings.source", format!("unknown source {source:?}")))?,
        external_id: row.try_get("external_id")?,
        started_at: from_millis("recordings.started_at", row.try_get("started_at")?)?,
        duration_ms: unsigned("recordings.duration_ms", row.try_get("duration_ms")?)?,
        direction: Direction::parse(&direction).ok_or_else(|| {
            corrupt(
                "recordings.direction",
                format!("unknown direction {direction:?}"),
            )
        })?,
        tags,
        content_hash: digest("recordings.content_hash", row.try_get("content_hash")?)?,
        state: recording_state(row.try_get("state")?)?,
        details: serde_json::from_str(&details)
            .map_err(|error| corrupt("recordings.details", error.to_string()))?,
        created_at: from_millis("recordings.created_at", row.try_get("created_at")?)?,
    })
}

/// Tags of the given recordings, each list sorted.
pub(crate) async fn tags_of(
    connection: &mut SqliteConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, CatalogError> {
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(tags);
    }
    let mut builder: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT recording_id, tag FROM recording_tags WHERE recording_id IN (");
    let mut separated = builder.separated(", ");
    for id in ids {
        separated.push_bind(id.clone());
    }
    builder.push(") ORDER BY recording_id, tag");
    let rows = builder.build().fetch_all(connection).await?;
    for row in rows {
        let id: String = row.try_get("recording_id")?;
        tags.entry(id).or_default().push(row.try_get("tag")?);
    }
    Ok(tags)
}

pub(crate) async fn detail(
    connection: &mut SqliteConnection,
    tenant: Option<&TenantId>,
    id: &RecordingId,
) -> Result<Option<RecordingDetail>, CatalogError> {
    let id_text = id.to_string();
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
    builder.push(RECORDING_COLUMNS);
    builder.push(" FROM recordings r WHERE r.id = ");
    builder.push_bind(id_text.clone());
    if let Some(tenant) = tenant {
        builder.push(" AND r.tenant_id = ");
        builder.push_bind(tenant.as_str().to_owned());
    }
    let Some(row) = builder.build().fetch_optional(&mut *connection).await? else {
        return Ok(None);
    };
    let tags = tags_of(&mut *connection, std::slice::from_ref(&id_text))
        .await?
        .remove(&id_text)
        .unwrap_or_default();
    let recording = decode_recording(&row, tags)?;

    let mut evidence: HashMap<i64, Vec<ConsentEvidence>> = HashMap::new();
    let rows = sqlx::query(
        "SELECT ordinal, kind, at, reference, source FROM consent_evidence \
         WHERE recording_id = $1 ORDER BY ordinal, position",
    )
    .bind(&id_text)
    .fetch_all(&mut *connection)
    .await?;
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let source: String = row.try_get("source")?;
        let at: Option<i64> = row.try_get("at")?;
        evidence
            .entry(row.try_get("ordinal")?)
            .or_default()
            .push(ConsentEvidence {
                kind: kind
                    .parse::<ConsentKind>()
                    .map_err(|error| corrupt("consent_evidence.kind", error))?,
                at: at
                    .map(|at| from_millis("consent_evidence.at", at))
                    .transpose()?,
                reference: row.try_get("reference")?,
                source: EvidenceSource::parse(&source).ok_or_else(|| {
                    corrupt(
                        "consent_evidence.source",
                        format!("unknown source {source:?}"),
                    )
                })?,
            });
    }

    let rows = sqlx::query(
        "SELECT ordinal, address, name, role FROM participants \
         WHERE recording_id = $1 ORDER BY ordinal",
    )
    .bind(&id_text)
    .fetch_all(&mut *connection)
    .await?;
    let mut participants = Vec::with_capacity(rows.len());
    for row in rows {
        let ordinal: i64 = row.try_get("ordinal")?;
        let name: Option<String> = row.try_get("name")?;
        participants.push(Participant {
            ordinal: u32::try_from(ordinal)
                .map_err(|_| corrupt("participants.ordinal", format!("{ordinal} out of range")))?,
            address: Pii::new(row.try_get("address")?),
            name: name.map(Pii::new),
            role: row.try_get("role")?,
            evidence: evidence.remove(&ordinal).unwrap_or_default(),
        });
    }

    let rows = sqlx::query(
        "SELECT label, content_type, codec, duration_ms, plaintext_size, plaintext_sha256, \
         object_key, object_size, object_sha256, region FROM streams \
         WHERE recording_id = $1 ORDER BY label",
    )
    .bind(&id_text)
    .fetch_all(&mut *connection)
    .await?;
    let mut streams = Vec::with_capacity(rows.len());
    for row in rows {
        streams.push(Stream {
            label: StreamLabel::new(row.try_get::<String, _>("label")?)
                .map_err(|error| corrupt("streams.label", error.to_string()))?,
            content_type: row.try_get("content_type")?,
            codec: row.try_get("codec")?,
            duration_ms: unsigned("streams.duration_ms", row.try_get("duration_ms")?)?,
            plaintext_size: unsigned("streams.plaintext_size", row.try_get("plaintext_size")?)?,
            plaintext_sha256: digest("streams.plaintext_sha256", row.try_get("plaintext_sha256")?)?,
            object_key: row.try_get("object_key")?,
            object_size: unsigned("streams.object_size", row.try_get("object_size")?)?,
            object_sha256: digest("streams.object_sha256", row.try_get("object_sha256")?)?,
            region: RegionId::new(row.try_get::<String, _>("region")?)
                .map_err(|error| corrupt("streams.region", error.to_string()))?,
        });
    }
    Ok(Some(RecordingDetail {
        recording,
        participants,
        streams,
    }))
}

/// Appends ` AND …` for every field of the filter. New filters go here (and in
/// `RecordingFilter::matches` for the in-memory twin).
fn push_filter(builder: &mut QueryBuilder<Sqlite>, filter: &RecordingFilter) {
    if let Some(tenant) = &filter.tenant {
        builder.push(" AND r.tenant_id = ");
        builder.push_bind(tenant.as_str().to_owned());
    }
    if let Some(from) = &filter.started_from {
        builder.push(" AND r.started_at >= ");
        builder.push_bind(to_millis(from));
    }
    if let Some(before) = &filter.started_before {
        builder.push(" AND r.started_at < ");
        builder.push_bind(to_millis(before));
    }
    if let Some(state) = filter.state {
        builder.push(" AND r.state = ");
        builder.push_bind(state.as_str());
    }
    if let Some(direction) = filter.direction {
        builder.push(" AND r.direction = ");
        builder.push_bind(direction.as_str());
    }
    if let Some(tag) = &filter.tag {
        builder.push(
            " AND EXISTS (SELECT 1 FROM recording_tags t WHERE t.recording_id = r.id AND t.tag = ",
        );
        builder.push_bind(tag.clone());
        builder.push(")");
    }
    if let Some(address) = &filter.participant {
        builder.push(
            " AND EXISTS (SELECT 1 FROM participants p WHERE p.recording_id = r.id AND p.address = ",
        );
        builder.push_bind(address.clone());
        builder.push(")");
    }
    if let Some(min) = filter.min_duration_ms {
        builder.push(" AND r.duration_ms >= ");
        builder.push_bind(i64::try_from(min).unwrap_or(i64::MAX));
    }
    if let Some(max) = filter.max_duration_ms {
        builder.push(" AND r.duration_ms <= ");
        builder.push_bind(i64::try_from(max).unwrap_or(i64::MAX));
    }
}

pub(crate) async fn list(
    connection: &mut SqliteConnection,
    filter: &RecordingFilter,
    after: Option<&Cursor>,
    limit: u32,
) -> Result<Page, CatalogError> {
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
    builder.push(RECORDING_COLUMNS);
    builder.push(" FROM recordings r WHERE 1 = 1");
    push_filter(&mut builder, filter);
    if let Some(after) = after {
        builder.push(" AND (r.started_at < ");
        builder.push_bind(after.started_at_millis);
        builder.push(" OR (r.started_at = ");
        builder.push_bind(after.started_at_millis);
        builder.push(" AND r.id < ");
        builder.push_bind(after.id.to_string());
        builder.push("))");
    }
    builder.push(" ORDER BY r.started_at DESC, r.id DESC LIMIT ");
    builder.push_bind(i64::from(limit) + 1);
    let mut rows = builder.build().fetch_all(&mut *connection).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let ids = rows
        .iter()
        .map(|row| row.try_get::<String, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tags = tags_of(&mut *connection, &ids).await?;
    let items = rows
        .iter()
        .zip(&ids)
        .map(|(row, id)| decode_recording(row, tags.remove(id).unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()?;
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(Cursor {
            started_at_millis: to_millis(&last.started_at),
            id: last.id,
        }),
        _ => None,
    };
    Ok(Page { items, next })
}

pub(crate) async fn count(
    connection: &mut SqliteConnection,
    filter: &RecordingFilter,
) -> Result<u64, CatalogError> {
    let mut builder: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT COUNT(*) AS count FROM recordings r WHERE 1 = 1");
    push_filter(&mut builder, filter);
    let row = builder.build().fetch_one(connection).await?;
    unsigned("recordings.count", row.try_get("count")?)
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, tenant_id, recording_id, details, prev_hash, hash";

/// One stored audit row, or the name of the first field that could not be read.
fn decode_audit(row: &SqliteRow) -> Result<StoredAuditEntry, &'static str> {
    Ok(StoredAuditEntry {
        seq: row.try_get("seq").map_err(|_| "seq")?,
        at_millis: row.try_get("at").map_err(|_| "at")?,
        actor: row.try_get("actor").map_err(|_| "actor")?,
        action: row.try_get("action").map_err(|_| "action")?,
        tenant: row.try_get("tenant_id").map_err(|_| "tenant_id")?,
        recording: row.try_get("recording_id").map_err(|_| "recording_id")?,
        details: row.try_get("details").map_err(|_| "details")?,
        prev_hash: row.try_get("prev_hash").map_err(|_| "prev_hash")?,
        hash: row.try_get("hash").map_err(|_| "hash")?,
    })
}

pub(crate) fn unreadable_audit(field: &'static str) -> CatalogError {
    corrupt("audit_log", format!("field {field} unreadable"))
}

/// Up to `limit` rows with `seq >= from_seq`, in `seq` order.
pub(crate) async fn audit_page(
    connection: &mut SqliteConnection,
    from_seq: i64,
    limit: u32,
) -> Result<Vec<Result<StoredAuditEntry, &'static str>>, CatalogError> {
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
    builder.push(AUDIT_COLUMNS);
    builder.push(" FROM audit_log WHERE seq >= ");
    builder.push_bind(from_seq);
    builder.push(" ORDER BY seq LIMIT ");
    builder.push_bind(i64::from(limit));
    let rows = builder.build().fetch_all(connection).await?;
    Ok(rows.iter().map(decode_audit).collect())
}

pub(crate) async fn audit_for_recording(
    connection: &mut SqliteConnection,
    id: &RecordingId,
) -> Result<Vec<AuditEntry>, CatalogError> {
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
    builder.push(AUDIT_COLUMNS);
    builder.push(" FROM audit_log WHERE recording_id = ");
    builder.push_bind(id.to_string());
    builder.push(" ORDER BY seq");
    let rows = builder.build().fetch_all(connection).await?;
    rows.iter()
        .map(|row| decode_audit(row).map_err(unreadable_audit)?.to_entry())
        .collect()
}

/// Walk the whole chain in `seq` order, a page at a time (memory stays bounded). Every row is
/// read, including any with a `seq` below 1 that no valid append writes: such a row is
/// reported, not skipped.
pub(crate) async fn verify(
    connection: &mut SqliteConnection,
) -> Result<Result<AuditSummary, AuditBreak>, CatalogError> {
    const PAGE: u32 = 1000;
    let mut verifier = AuditVerifier::new();
    let mut from_seq = i64::MIN;
    loop {
        let rows = audit_page(&mut *connection, from_seq, PAGE).await?;
        let full = rows.len() == PAGE as usize;
        for row in rows {
            let entry = match row {
                Ok(entry) => entry,
                Err(field) => return Ok(Err(verifier.unreadable(field))),
            };
            if let Err(broken) = verifier.push(&entry) {
                return Ok(Err(broken));
            }
            from_seq = entry.seq.saturating_add(1);
        }
        if !full {
            return Ok(Ok(verifier.finish()));
        }
    }
}
