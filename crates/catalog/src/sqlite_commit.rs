//! The batched write path of the SQLite backend (group commit): look up a whole batch's
//! content hashes and ids with a few `IN (…)` queries, then write every table with multi-row
//! `INSERT`s. Per recording that is a handful of bound rows instead of a dozen round trips to
//! SQLite's worker thread.

use std::collections::HashMap;

use model::{RecordingId, TenantId};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::audit::StoredAuditEntry;
use crate::error::CatalogError;
use crate::sqlite_read as read;
use crate::time::to_millis;
use crate::types::{CheckedRecording, RecordingState, Sha256Digest};

/// Rows per multi-row statement: at most 11 columns × 400 rows = 4,400 bound values, well
/// under SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 400;

fn as_i64(value: u64) -> i64 {
    // Every stored u64 was bounded to i64 by the input checks.
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Recordings already stored under the batch's `(tenant, content hash)` pairs.
pub(crate) async fn stored_hashes(
    connection: &mut SqliteConnection,
    items: &[CheckedRecording],
) -> Result<HashMap<(TenantId, Sha256Digest), RecordingId>, CatalogError> {
    let mut by_tenant: HashMap<&TenantId, Vec<&Sha256Digest>> = HashMap::new();
    for item in items {
        by_tenant
            .entry(&item.recording.tenant)
            .or_default()
            .push(&item.recording.content_hash);
    }
    let mut found = HashMap::new();
    for (tenant, hashes) in by_tenant {
        for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
            let mut builder: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT id, content_hash FROM recordings WHERE tenant_id = ");
            builder.push_bind(tenant.as_str());
            builder.push(" AND content_hash IN (");
            let mut separated = builder.separated(", ");
            for hash in chunk {
                separated.push_bind(hash.as_slice());
            }
            builder.push(")");
            for row in builder.build().fetch_all(&mut *connection).await? {
                let id: String = row.try_get("id")?;
                let id = id
                    .parse()
                    .map_err(|error: model::IdError| CatalogError::Corrupt {
                        column: "recordings.id",
                        reason: error.to_string(),
                    })?;
                let hash = read::digest("recordings.content_hash", row.try_get("content_hash")?)?;
                found.insert((tenant.clone(), hash), id);
            }
        }
    }
    Ok(found)
}

/// Lifecycle states of recordings already stored under the batch's ids.
pub(crate) async fn stored_states(
    connection: &mut SqliteConnection,
    items: &[CheckedRecording],
) -> Result<HashMap<RecordingId, RecordingState>, CatalogError> {
    let mut found = HashMap::new();
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut builder: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT id, state FROM recordings WHERE id IN (");
        let mut separated = builder.separated(", ");
        for item in chunk {
            separated.push_bind(item.recording.id.to_string());
        }
        builder.push(")");
        for row in builder.build().fetch_all(&mut *connection).await? {
            let id: String = row.try_get("id")?;
            let id = id
                .parse()
                .map_err(|error: model::IdError| CatalogError::Corrupt {
                    column: "recordings.id",
                    reason: error.to_string(),
                })?;
            found.insert(id, read::recording_state(row.try_get("state")?)?);
        }
    }
    Ok(found)
}

/// Run one multi-row `INSERT` per chunk of `rows`.
async fn insert_rows<T>(
    connection: &mut SqliteConnection,
    head: &'static str,
    rows: &[T],
    mut push: impl FnMut(sqlx::query_builder::Separated<'_, Sqlite, &'static str>, &T),
) -> Result<(), CatalogError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        builder.push_values(chunk, &mut push);
        builder.build().execute(&mut *connection).await?;
    }
    Ok(())
}

/// Insert the recordings and everything that belongs to them, table by table.
pub(crate) async fn insert_recordings(
    connection: &mut SqliteConnection,
    items: &[&CheckedRecording],
) -> Result<(), CatalogError> {
    let ids: Vec<String> = items
        .iter()
        .map(|item| item.recording.id.to_string())
        .collect();
    let rows: Vec<_> = items.iter().zip(&ids).collect();
    insert_rows(
        connection,
        "INSERT INTO recordings (id, tenant_id, source, external_id, started_at, duration_ms, \
         direction, content_hash, state, details, created_at) ",
        &rows,
        |mut values, (item, id)| {
            let recording = &item.recording;
            values
                .push_bind(id.as_str())
                .push_bind(recording.tenant.as_str())
                .push_bind(recording.source.as_str())
                .push_bind(recording.external_id.as_deref())
                .push_bind(to_millis(&recording.started_at))
                .push_bind(as_i64(recording.duration_ms))
                .push_bind(recording.direction.as_str())
                .push_bind(recording.content_hash.as_slice())
                .push_bind(recording.state.as_str())
                .push_bind(item.details_text.as_str())
                .push_bind(to_millis(&recording.created_at));
        },
    )
    .await?;

    let tags: Vec<(&str, &str)> = rows
        .iter()
        .flat_map(|(item, id)| {
            item.recording
                .tags
                .iter()
                .map(|tag| (id.as_str(), tag.as_str()))
        })
        .collect();
    insert_rows(
        connection,
        "INSERT INTO recording_tags (recording_id, tag) ",
        &tags,
        |mut values, (id, tag)| {
            values.push_bind(*id).push_bind(*tag);
        },
    )
    .await?;

    let participants: Vec<_> = rows
        .iter()
        .flat_map(|(item, id)| item.participants.iter().map(move |p| (id.as_str(), p)))
        .collect();
    insert_rows(
        connection,
        "INSERT INTO participants (recording_id, ordinal, address, name, role) ",
        &participants,
        |mut values, (id, participant)| {
            values
                .push_bind(*id)
                .push_bind(i64::from(participant.ordinal))
                .push_bind(participant.address.dangerous_reveal().as_str())
                .push_bind(
                    participant
                        .name
                        .as_ref()
                        .map(|name| name.dangerous_reveal().as_str()),
                )
                .push_bind(participant.role.as_str());
        },
    )
    .await?;

    let evidence: Vec<_> = participants
        .iter()
        .flat_map(|(id, participant)| {
            participant
                .evidence
                .iter()
                .enumerate()
                .map(move |(position, item)| (*id, participant.ordinal, position, item))
        })
        .collect();
    insert_rows(
        connection,
        "INSERT INTO consent_evidence \
         (recording_id, ordinal, position, kind, at, reference, source) ",
        &evidence,
        |mut values, (id, ordinal, position, item)| {
            values
                .push_bind(*id)
                .push_bind(i64::from(*ordinal))
                .push_bind(i64::try_from(*position).unwrap_or(i64::MAX))
                .push_bind(item.kind.as_str())
                .push_bind(item.at.as_ref().map(to_millis))
                .push_bind(item.reference.as_str())
                .push_bind(item.source.as_str());
        },
    )
    .await?;

    let streams: Vec<_> = rows
        .iter()
        .flat_map(|(item, id)| item.streams.iter().map(move |stream| (id.as_str(), stream)))
        .collect();
    insert_rows(
        connection,
        "INSERT INTO streams (recording_id, label, content_type, codec, duration_ms, \
         plaintext_size, plaintext_sha256, object_key, object_size, object_sha256, region) ",
        &streams,
        |mut values, (id, stream)| {
            values
                .push_bind(*id)
                .push_bind(stream.label.as_str())
                .push_bind(stream.content_type.as_str())
                .push_bind(stream.codec.as_str())
                .push_bind(as_i64(stream.duration_ms))
                .push_bind(as_i64(stream.plaintext_size))
                .push_bind(stream.plaintext_sha256.as_slice())
                .push_bind(stream.object_key.as_str())
                .push_bind(as_i64(stream.object_size))
                .push_bind(stream.object_sha256.as_slice())
                .push_bind(stream.region.as_str());
        },
    )
    .await?;

    insert_rows(
        connection,
        "INSERT INTO sealed_keys (recording_id, sealed_key) ",
        &rows,
        |mut values, (item, id)| {
            values
                .push_bind(id.as_str())
                .push_bind(item.sealed_key.as_slice());
        },
    )
    .await?;

    let certificates: Vec<_> = rows
        .iter()
        .filter_map(|(item, id)| {
            let certificate = item.certificate.as_ref()?;
            Some((id.as_str(), &item.recording, certificate))
        })
        .collect();
    insert_rows(
        connection,
        "INSERT INTO completeness_certificates \
         (recording_id, tenant_id, started_at, verdict, gap_count, document) ",
        &certificates,
        |mut values, (id, recording, certificate)| {
            values
                .push_bind(*id)
                .push_bind(recording.tenant.as_str())
                .push_bind(to_millis(&recording.started_at))
                .push_bind(certificate.verdict.as_str())
                .push_bind(i64::from(certificate.gap_count))
                .push_bind(certificate.document.as_str());
        },
    )
    .await
}

/// Insert already-chained audit entries.
pub(crate) async fn insert_audit(
    connection: &mut SqliteConnection,
    entries: &[StoredAuditEntry],
) -> Result<(), CatalogError> {
    insert_rows(
        connection,
        "INSERT INTO audit_log \
         (seq, at, actor, action, tenant_id, recording_id, details, prev_hash, hash) ",
        entries,
        |mut values, entry| {
            values
                .push_bind(entry.seq)
                .push_bind(entry.at_millis)
                .push_bind(entry.actor.as_str())
                .push_bind(entry.action.as_str())
                .push_bind(entry.tenant.as_deref())
                .push_bind(entry.recording.as_deref())
                .push_bind(entry.details.as_str())
                .push_bind(entry.prev_hash.as_slice())
                .push_bind(entry.hash.as_slice());
        },
    )
    .await
}
