//! The search index glue: transcripts into the tenant's index under `DATA_DIR/index/`, the
//! audited `onrecord search`, and `onrecord reindex` (rebuilt from archive + catalog).
//!
//! The index is derived data and plaintext at rest (segment text, participant addresses).
//! It is opened for one operation at a time and closed again, so a search and an indexing
//! job of two processes take turns on tantivy's writer lock.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use catalog::{JobState, NewAuditEntry, RecordingDetail, RecordingState};
use chrono::{DateTime, Utc};
use model::{Pii, RecordingId, TenantId};
use onrecord_search::{
    ParticipantDocument, RecordingDocument, SearchFilters, SearchIndex, SegmentDocument,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::transcript::StoredTranscript;
use crate::app::App;

/// Where the tenants' indexes live.
pub fn index_directory(app: &App) -> PathBuf {
    app.data_dir.root().join("index")
}

fn open(app: &App, tenant: &TenantId) -> Result<SearchIndex> {
    SearchIndex::open(&index_directory(app), tenant)
        .map_err(|error| anyhow!("search index of tenant {tenant}: {error}"))
}

fn document(detail: &RecordingDetail, stored: &StoredTranscript) -> RecordingDocument {
    let recording = &detail.recording;
    RecordingDocument {
        recording: recording.id,
        started_at: recording.started_at,
        direction: recording.direction,
        duration_ms: recording.duration_ms,
        participants: detail
            .participants
            .iter()
            .map(|participant| ParticipantDocument {
                ordinal: participant.ordinal,
                label: stored
                    .segments
                    .iter()
                    .find(|segment| segment.participant == Some(participant.ordinal))
                    .map(|segment| segment.label.clone())
                    .unwrap_or_else(|| participant.role.clone()),
                address: participant.address.clone(),
            })
            .collect(),
        tags: recording.tags.clone(),
        segments: stored
            .segments
            .iter()
            .map(|segment| SegmentDocument {
                // Unattributed speech is ordinal 0 (participants count from 1).
                participant: segment.participant.unwrap_or(0),
                start_ms: segment.start_ms,
                end_ms: segment.end_ms,
                text: segment.text.clone(),
            })
            .collect(),
    }
}

/// Removes recordings from their tenant's index (erasure) with one commit. Removing one that
/// is not indexed is not an error.
pub fn remove_recordings(app: &App, tenant: &TenantId, ids: &[RecordingId]) -> Result<()> {
    let directory = index_directory(app);
    if ids.is_empty() || !directory.join(tenant.as_str()).exists() {
        return Ok(());
    }
    let mut index = open(app, tenant)?;
    for id in ids {
        index.delete_recording(id);
    }
    index
        .commit()
        .map_err(|error| anyhow!("search index of tenant {tenant}: {error}"))
}

/// Adds (or replaces) one recording's transcript in its tenant's index.
pub async fn index_transcript(app: &App, id: RecordingId, stored: &StoredTranscript) -> Result<()> {
    let detail = app
        .catalog
        .recording(None, &id)
        .await?
        .ok_or_else(|| anyhow!("no recording {id}"))?;
    let mut index = open(app, &detail.recording.tenant)?;
    index.add_recording(&document(&detail, stored))?;
    index.commit()?;
    Ok(())
}

/// Filters of `onrecord search`, like the listing's.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub tenant: TenantId,
    pub query: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub participant: Option<String>,
    pub tags: Vec<String>,
    pub limit: usize,
}

/// One hit as `search --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub recording_id: RecordingId,
    /// Seconds from the start of the recording (where the player jumps).
    pub start: f64,
    pub end: f64,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The speaker's address, else their label.
    pub participant: String,
    pub participant_label: String,
    pub text: String,
    pub started_at: String,
    pub score: f32,
}

/// Runs a search, audited as `search.performed`. The query can hold personal data (names,
/// numbers), so the audit log keeps only its BLAKE3 hash: enough to confirm a known query
/// was run, not to read it back (a short, guessable query can still be confirmed by trying).
pub async fn search(app: &App, request: &SearchRequest) -> Result<Vec<SearchHit>> {
    app.tenant_config(&request.tenant)?;
    let index = open(app, &request.tenant)?;
    let filters = SearchFilters {
        started_from: request.from,
        started_before: request.to,
        participant_address: request.participant.clone().map(Pii::new),
        tags: request.tags.clone(),
        ..SearchFilters::default()
    };
    let found = index
        .search(&request.query, &filters, request.limit)
        .map_err(|error| anyhow!("{error}"))?;
    drop(index);
    let mut details: HashMap<RecordingId, Option<RecordingDetail>> = HashMap::new();
    let mut hits = Vec::with_capacity(found.len());
    for hit in found {
        if let std::collections::hash_map::Entry::Vacant(slot) = details.entry(hit.recording) {
            slot.insert(
                app.catalog
                    .recording(Some(&request.tenant), &hit.recording)
                    .await?,
            );
        }
        // A recording erased since it was indexed is not shown.
        let Some(Some(detail)) = details.get(&hit.recording) else {
            continue;
        };
        if detail.recording.state != RecordingState::Committed {
            continue;
        }
        let participant = detail
            .participants
            .iter()
            .find(|p| p.ordinal == hit.participant)
            .map(|p| p.address.dangerous_reveal().clone())
            .unwrap_or_else(|| hit.participant_label.clone());
        hits.push(SearchHit {
            recording_id: hit.recording,
            start: hit.start_ms as f64 / 1000.0,
            end: hit.end_ms as f64 / 1000.0,
            start_ms: hit.start_ms,
            end_ms: hit.end_ms,
            participant,
            participant_label: hit.participant_label,
            text: hit.text,
            started_at: detail
                .recording
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            score: hit.score,
        });
    }
    audit(
        app,
        "search.performed",
        &request.tenant,
        json!({
            "query_blake3": blake3::hash(request.query.as_bytes()).to_hex().to_string(),
            "hits": hits.len(),
            "filters": {
                "from": request.from.map(|at| at.to_rfc3339()),
                "to": request.to.map(|at| at.to_rfc3339()),
                "participant": request.participant.is_some(),
                "tags": request.tags.len(),
            },
        }),
    )
    .await?;
    Ok(hits)
}

async fn audit(app: &App, action: &str, tenant: &TenantId, details: Value) -> Result<()> {
    app.catalog
        .append_audit(&[NewAuditEntry {
            at: app.clock.wall(),
            actor: app.actor.clone(),
            action: action.to_owned(),
            tenant: Some(tenant.clone()),
            recording: None,
            details,
        }])
        .await?;
    Ok(())
}

/// Rebuilds the tenant's index from the catalog's finished jobs and the sealed transcripts
/// (decrypted with the tenant's private key). Returns how many recordings it indexed.
pub async fn reindex(app: &App, tenant: &TenantId) -> Result<usize> {
    app.tenant_config(tenant)?;
    let jobs = app
        .catalog
        .transcription_jobs(tenant, Some(JobState::Done))
        .await?;
    let mut documents = Vec::new();
    for job in &jobs {
        let Some(detail) = app.catalog.recording(Some(tenant), &job.recording).await? else {
            continue;
        };
        if detail.recording.state != RecordingState::Committed {
            continue;
        }
        if let Some(stored) = super::read_transcript(app, &detail, job).await? {
            documents.push(document(&detail, &stored));
        }
    }
    let mut index = open(app, tenant)?;
    index.clear()?;
    for document in &documents {
        index.add_recording(document)?;
    }
    index.commit()?;
    audit(
        app,
        "search.reindexed",
        tenant,
        json!({ "recordings": documents.len() }),
    )
    .await?;
    Ok(documents.len())
}
