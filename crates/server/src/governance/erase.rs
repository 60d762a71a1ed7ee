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

use anyhow::{Context, Result, anyhow};
use archive::ObjectKey;
use catalog::governance::ShredRequest;
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

/// Erases the given recordings of `tenant`, skipping blocked ones.
pub async fn erase(
    app: &App,
    node: &NodeKey,
    ids: &[RecordingId],
    reason: &str,
    rule: Rule<'_>,
) -> Result<EraseReport> {
    let mut report = EraseReport::default();
    for id in ids {
        let Some(detail) = app.catalog.recording(None, id).await? else {
            continue;
        };
        if detail.recording.state == RecordingState::Erased {
            report.already_erased.push(*id);
            continue;
        }
        let now = app.clock.wall();
        let mut reasons = rule(&detail, now);
        for hold in app.catalog.holds_covering(id).await? {
            reasons.push(hold_reason(&hold));
        }
        if !reasons.is_empty() {
            report.blocked.push(Blocked {
                recording: *id,
                reasons,
            });
            continue;
        }
        match erase_one(app, node, *id, reason).await {
            Ok(receipt) => report.receipts.push(receipt),
            // A hold placed between the check and the erasing transaction.
            Err(error) => match error.downcast_ref::<CatalogError>() {
                Some(CatalogError::Conflict(Conflict::Held { holds, .. })) => {
                    report.blocked.push(Blocked {
                        recording: *id,
                        reasons: holds
                            .iter()
                            .map(|hold| json!({ "kind": "legal-hold", "hold": hold }))
                            .collect(),
                    });
                }
                _ => return Err(error),
            },
        }
    }
    Ok(report)
}

fn hold_reason(hold: &catalog::governance::Hold) -> Value {
    json!({
        "kind": "legal-hold",
        "hold": hold.id,
        "scope": hold.scope.kind(),
        "reason": hold.reason,
        "holder": hold.holder,
        "placed_at": hold.placed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

async fn erase_one(app: &App, node: &NodeKey, id: RecordingId, reason: &str) -> Result<Value> {
    let at = app.clock.wall();
    let outcome = app
        .catalog
        .shred_recording(&ShredRequest {
            recording: id,
            at,
            pseudonym_salt: node.pseudonym_salt(),
            audit: AuditNote::new(
                &app.actor,
                "recording.erased",
                json!({ "reason": reason, "method": "crypto-shred" }),
            ),
        })
        .await?;
    let tenant = outcome.tenant.clone();
    // The key is gone; now the objects.
    let placement = app.placement(&tenant)?;
    let store = app.archive.for_placement(&placement)?;
    let mut objects = Vec::with_capacity(outcome.streams.len());
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
    crate::transcription::index::remove_recording(app, &tenant, id)?;
    let body = json!({
        "recording": id,
        "tenant": tenant,
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
    });
    let receipt = node.sign(RECEIPT_KIND, body);
    app.catalog
        .append_audit(&[NewAuditEntry {
            at: app.clock.wall(),
            actor: app.actor.clone(),
            action: "erasure.receipt".into(),
            tenant: Some(tenant),
            recording: Some(id),
            details: receipt.clone(),
        }])
        .await?;
    Ok(receipt)
}

/// The rule that blocks nothing.
pub fn no_rule(_: &catalog::RecordingDetail, _: DateTime<Utc>) -> Vec<Value> {
    Vec::new()
}
