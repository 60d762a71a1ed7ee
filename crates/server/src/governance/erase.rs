//! `onrecord erase`: crypto-shredding with a signed receipt.
//!
//! Order, per recording: (1) the catalog deletes the sealed data key, marks the recording
//! erased and pseudonymises its participants, in one audited transaction that refuses a held
//! recording; from that moment every copy of the ciphertext (backups included) is noise;
//! (2) the sealed objects are deleted from the region store; (3) a receipt naming what was
//! destroyed (object keys, sizes and BLAKE3 digests of the sealed objects, SHA-256 of the
//! sealed key bytes, when, by whom, why, and the audit entry of step 1) is signed with the
//! node key and appended to the audit chain as `erasure.receipt`. The sealed transcript object
//! and the recording's search index entries go with it.
//!
//! Blocked recordings (legal hold, minimum retention) are not touched; the command names each
//! with its reasons and exits non-zero, after erasing the others.
//!
//! Recordings go in batches: step 1 for a whole batch is one catalog transaction (each
//! recording still gets its own `recording.erased` entry), and the batch's receipts are
//! appended in one more, so erasing a person's 100,000 calls costs two commits per batch
//! instead of two per call.

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use archive::ObjectKey;
use catalog::governance::{Hold, ShredOutcome, ShredRequest};
use catalog::{AuditNote, CatalogError, Conflict, NewAuditEntry, RecordingState};
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};
use serde::Serialize;
use serde_json::{Value, json};

use super::Target;
use crate::app::App;
use crate::nodekey::NodeKey;

/// The kind of a signed erasure receipt.
pub const RECEIPT_KIND: &str = "onrecord.erasure-receipt.v1";

/// Why one recording was not erased.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    pub recording: RecordingId,
    pub reasons: Vec<Value>,
}

#[derive(Debug, Default, Serialize)]
pub struct EraseReport {
    /// One signed receipt per erased recording.
    pub receipts: Vec<Value>,
    pub blocked: Vec<Blocked>,
    /// Recordings already erased before this run (nothing to do).
    pub already_erased: Vec<RecordingId>,
}

/// A rule outside the catalog that may block an erasure (minimum retention): returns the
/// reasons, empty when erasure is allowed.
pub type Rule<'a> = &'a (dyn Fn(&catalog::RecordingDetail, DateTime<Utc>) -> Vec<Value> + Sync);

/// The recordings a target names within a tenant.
pub async fn resolve(app: &App, tenant: &TenantId, target: &Target) -> Result<Vec<RecordingId>> {
    match target {
        Target::Recording(id) => {
            app.catalog
                .recording(Some(tenant), id)
                .await?
                .ok_or_else(|| anyhow!("tenant {tenant} has no recording {id}"))?;
            Ok(vec![*id])
        }
        Target::Participant(address) => Ok(app
            .catalog
            .recordings_with_participant(tenant, address)
            .await?),
    }
}

/// Recordings erased per catalog transaction: one commit (one sync) for their keys, one for
/// their receipts, while each keeps its own audit entry and signed receipt.
const BATCH: usize = 500;

/// Erases the given recordings, skipping blocked ones.
pub async fn erase(
    app: &App,
    node: &NodeKey,
    ids: &[RecordingId],
    reason: &str,
    rule: Rule<'_>,
) -> Result<EraseReport> {
    let mut report = EraseReport::default();
    for batch in ids.chunks(BATCH) {
        erase_batch(app, node, batch, reason, rule, &mut report).await?;
    }
    Ok(report)
}

async fn erase_batch(
    app: &App,
    node: &NodeKey,
    ids: &[RecordingId],
    reason: &str,
    rule: Rule<'_>,
    report: &mut EraseReport,
) -> Result<()> {
    let now = app.clock.wall();
    let mut holds: HashMap<TenantId, Vec<Hold>> = HashMap::new();
    let mut requests = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(detail) = app.catalog.recording(None, id).await? else {
            continue;
        };
        if detail.recording.state == RecordingState::Erased {
            report.already_erased.push(*id);
            continue;
        }
        let mut reasons = rule(&detail, now);
        let tenant = &detail.recording.tenant;
        if !holds.contains_key(tenant) {
            holds.insert(
                tenant.clone(),
                app.catalog.holds(Some(tenant), false).await?,
            );
        }
        for hold in holds.get(tenant).into_iter().flatten() {
            if hold.covers(&detail) {
                reasons.push(hold_reason(hold));
            }
        }
        if !reasons.is_empty() {
            report.blocked.push(Blocked {
                recording: *id,
                reasons,
            });
            continue;
        }
        requests.push(ShredRequest {
            recording: *id,
            at: now,
            pseudonym_salt: node.pseudonym_salt(),
            audit: AuditNote::new(
                &app.actor,
                "recording.erased",
                json!({ "reason": reason, "method": "crypto-shred" }),
            ),
        });
    }
    if requests.is_empty() {
        return Ok(());
    }
    // Step 1 for the whole batch: the keys are destroyed in one transaction.
    let results = app.catalog.shred_recordings(&requests).await?;
    let mut receipts = Vec::with_capacity(results.len());
    let mut entries = Vec::with_capacity(results.len());
    let mut unindexed: HashMap<TenantId, Vec<RecordingId>> = HashMap::new();
    let mut failures = Vec::new();
    for (request, result) in requests.iter().zip(results) {
        let id = request.recording;
        let outcome = match result {
            Ok(outcome) => outcome,
            // Changed between the check and the erasing transaction.
            Err(CatalogError::Conflict(Conflict::Held { holds, .. })) => {
                report.blocked.push(Blocked {
                    recording: id,
                    reasons: holds
                        .iter()
                        .map(|hold| json!({ "kind": "legal-hold", "hold": hold }))
                        .collect(),
                });
                continue;
            }
            Err(CatalogError::Conflict(Conflict::MinimumRetention {
                minimum_days,
                scope,
                until,
                ..
            })) => {
                report.blocked.push(Blocked {
                    recording: id,
                    reasons: vec![json!({
                        "kind": "minimum-retention",
                        "minimum_retention_days": minimum_days,
                        "scope": scope,
                        "until": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    })],
                });
                continue;
            }
            Err(CatalogError::Conflict(Conflict::Transition { .. })) => {
                report.already_erased.push(id);
                continue;
            }
            Err(CatalogError::NotFound { .. }) => continue,
            Err(error) => return Err(error.into()),
        };
        // Steps 2 and 3: the objects, then the receipt.
        match delete_objects(app, id, &outcome).await {
            Ok((objects, transcripts_deleted)) => {
                let receipt = node.sign(
                    RECEIPT_KIND,
                    receipt_body(app, id, reason, &outcome, objects, transcripts_deleted),
                );
                entries.push(NewAuditEntry {
                    at: app.clock.wall(),
                    actor: app.actor.clone(),
                    action: "erasure.receipt".into(),
                    tenant: Some(outcome.tenant.clone()),
                    recording: Some(id),
                    details: receipt.clone(),
                });
                unindexed
                    .entry(outcome.tenant.clone())
                    .or_default()
                    .push(id);
                receipts.push(receipt);
            }
            Err(error) => failures.push(format!("{error:#}")),
        }
    }
    for (tenant, ids) in &unindexed {
        crate::transcription::index::remove_recordings(app, tenant, ids)?;
    }
    if !entries.is_empty() {
        app.catalog.append_audit(&entries).await?;
    }
    report.receipts.extend(receipts);
    if !failures.is_empty() {
        bail!(
            "the keys are destroyed but objects remain: {}",
            failures.join("; ")
        );
    }
    Ok(())
}

pub(crate) fn hold_reason(hold: &Hold) -> Value {
    json!({
        "kind": "legal-hold",
        "hold": hold.id,
        "scope": hold.scope.kind(),
        "reason": hold.reason,
        "holder": hold.holder,
        "placed_at": hold.placed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// Deletes a shredded recording's sealed objects (streams and transcript) from its region's
/// store; returns them as the receipt lists them, and how many transcripts went.
async fn delete_objects(
    app: &App,
    id: RecordingId,
    outcome: &ShredOutcome,
) -> Result<(Vec<Value>, u32)> {
    let placement = app.placement(&outcome.tenant)?;
    let store = app.archive.for_placement(&placement)?;
    let mut objects = Vec::with_capacity(outcome.streams.len() + 1);
    for stream in &outcome.streams {
        let key = ObjectKey::parse(&stream.object_key).map_err(|e| anyhow!("catalog: {e}"))?;
        store.delete(&placement, &key).await.with_context(|| {
            format!(
                "recording {id}: the key is destroyed but object {} could not be deleted",
                stream.object_key
            )
        })?;
        objects.push(json!({
            "stream": stream.label,
            "key": stream.object_key,
            "size": stream.object_size,
            // The catalog's object digest is BLAKE3 of the sealed bytes (its column name is
            // historical); the receipt says which it is.
            "blake3": hex::encode(stream.object_sha256),
            "deleted": true,
        }));
    }
    // The transcript is content too: its sealed object goes, and so does the index entry.
    let mut transcripts_deleted = 0;
    if let Some(transcript) = app
        .catalog
        .transcription_job(&id)
        .await?
        .and_then(|job| job.transcript)
    {
        let key = ObjectKey::parse(&transcript.object_key).map_err(|e| anyhow!("catalog: {e}"))?;
        store.delete(&placement, &key).await.with_context(|| {
            format!(
                "recording {id}: the transcript object {} could not be deleted",
                transcript.object_key
            )
        })?;
        objects.push(json!({
            "stream": "transcript",
            "key": transcript.object_key,
            "size": transcript.object_size,
            "blake3": hex::encode(transcript.object_sha256),
            "deleted": true,
        }));
        transcripts_deleted = 1;
    }
    Ok((objects, transcripts_deleted))
}

fn receipt_body(
    app: &App,
    id: RecordingId,
    reason: &str,
    outcome: &ShredOutcome,
    objects: Vec<Value>,
    transcripts_deleted: u32,
) -> Value {
    json!({
        "recording": id,
        "tenant": outcome.tenant,
        "erased_at": outcome.entry.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "erased_by": app.actor,
        "reason": reason,
        "method": "crypto-shred: sealed data key destroyed, then sealed objects deleted",
        "sealed_key_sha256": hex::encode(outcome.sealed_key_sha256),
        "objects": objects,
        "participants_pseudonymised": outcome.participants_pseudonymised,
        "transcripts_deleted": transcripts_deleted,
        "removed_from_search_index": true,
        "audit": { "seq": outcome.entry.seq, "hash": hex::encode(outcome.entry.hash) },
    })
}
