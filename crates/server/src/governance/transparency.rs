//! The content-blind transparency log: one leaf per recording event, an RFC 9162 Merkle tree
//! over them (`merkle`), tree heads signed with the node key.
//!
//! Leaves are derived from the audit chain, in seq order, by [`sync`]: each audit entry after
//! the log's cursor yields the leaves of the recording events it records (a commit, a hold
//! placed or released covering a recording, an erasure), and the catalog appends them with the
//! new cursor in one step (a second writer racing it gets `Conflict::LogMoved` and rereads).
//! So the log is append-only and complete: every event the audit chain holds is in it once.
//!
//! A leaf is a canonical JSON manifest ([`MANIFEST_FORMAT`]) that names ids, times, digests and
//! counts only: the recording id (random), tenant, region, event, the audit entry's seq and
//! hash, each sealed object's size and BLAKE3 digest, SHA-256 of the recording's metadata and
//! of its consent-evidence rows, the consent policy and a digest of its rules, the retention
//! deadline and the hold state. Never a participant address, a name, a transcript or any
//! plaintext digest, and every hash it carries covers at least one high-entropy value (a
//! digest, a random id), so none can be reversed by guessing.
//!
//! What a leaf says about the consent policy is its state when the log folds the entry in
//! (each [`sync`]: `report transparency`, and `serve` periodically and at shutdown); holds are
//! judged by their placement and release times against the event's time.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use catalog::governance::{Hold, HoldScope};
use catalog::retention::{RetainUntil, RetentionFloor, RetentionPolicy, retain_until};
use catalog::transparency::{Leaf, LogPosition, NewLeaf};
use catalog::{
    AuditEntry, CatalogError, Conflict, PageRequest, Recording, RecordingDetail, RecordingFilter,
    Tenant,
};
use chrono::{DateTime, SecondsFormat, Utc};
use model::{RecordingId, TenantId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app::App;

/// The format tag inside every leaf manifest.
pub const MANIFEST_FORMAT: &str = "onrecord.recording-manifest.v1";

/// Audit entries read per step of [`sync`].
const SYNC_PAGE: u32 = 1_000;

/// A recording event that makes leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Committed,
    HoldPlaced,
    HoldReleased,
    Erased,
}

impl Event {
    /// The audit actions that record each event.
    pub fn from_action(action: &str) -> Option<Event> {
        match action {
            "import.accepted" | "siprec.recorded" => Some(Event::Committed),
            "hold.placed" => Some(Event::HoldPlaced),
            "hold.released" => Some(Event::HoldReleased),
            "recording.erased" => Some(Event::Erased),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Committed => "committed",
            Event::HoldPlaced => "hold.placed",
            Event::HoldReleased => "hold.released",
            Event::Erased => "erased",
        }
    }
}

fn time_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Until when a recording is kept: the same rule `retention run` applies (the tenant's
/// per-tag retention from `config.toml`, and the catalog's minimum-retention floors); a
/// tenant no longer configured falls back to its registered `retention_days`.
pub fn retention_deadline(
    app: &App,
    recording: &Recording,
    tenant: &Tenant,
    floors: &[RetentionFloor],
) -> RetainUntil {
    let fallback;
    let policy = match app.config.tenant(&tenant.id) {
        Some(config) => &config.retention.policy,
        None => {
            fallback = RetentionPolicy {
                default_days: tenant.retention_days,
                tags: Default::default(),
            };
            &fallback
        }
    };
    retain_until(policy, floors, recording)
}

fn sha256_hex(domain: &[u8], value: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    hasher.update(value.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// SHA-256 of the canonical consent-evidence rows (participant ordinal, position, kind, time,
/// reference, source). The rows hold no address or name; the digest binds them all the same.
pub fn evidence_digest(detail: &RecordingDetail) -> String {
    let rows: Vec<Value> = detail
        .participants
        .iter()
        .flat_map(|participant| {
            participant
                .evidence
                .iter()
                .enumerate()
                .map(move |(position, evidence)| {
                    json!({
                        "participant": participant.ordinal,
                        "position": position,
                        "kind": evidence.kind.as_str(),
                        "at": evidence.at.as_ref().map(time_text),
                        "reference": evidence.reference,
                        "source": evidence.source.as_str(),
                    })
                })
        })
        .collect();
    sha256_hex(b"onrecord/consent-evidence/v1\0", &Value::Array(rows))
}

/// SHA-256 of the recording's own metadata (with its content hash, so it cannot be guessed).
fn metadata_digest(recording: &Recording) -> String {
    sha256_hex(
        b"onrecord/recording-metadata/v1\0",
        &json!({
            "source": recording.source.as_str(),
            "external_id": recording.external_id,
            "started_at": time_text(&recording.started_at),
            "duration_ms": recording.duration_ms,
            "direction": recording.direction.as_str(),
            "tags": recording.tags,
            "content_hash": hex::encode(recording.content_hash),
            "details": recording.details,
        }),
    )
}

/// The consent rules' version: a digest of the policy and the staff patterns it applies.
fn policy_version(app: &App, tenant: &Tenant) -> String {
    let mut staff = app
        .config
        .tenant(&tenant.id)
        .map(|config| config.staff_patterns.clone())
        .unwrap_or_default();
    staff.sort();
    format!(
        "sha256:{}",
        sha256_hex(
            b"onrecord/consent-policy/v1\0",
            &json!({ "policy": tenant.consent_policy.as_str(), "staff": staff }),
        )
    )
}

fn active_at(hold: &Hold, at: DateTime<Utc>) -> bool {
    hold.placed_at <= at && hold.released.as_ref().is_none_or(|release| release.at > at)
}

/// Whether a hold's scope covers a recording, whatever its state now.
fn scope_covers(hold: &Hold, detail: &RecordingDetail) -> bool {
    Hold {
        released: None,
        ..hold.clone()
    }
    .covers(detail)
}

/// What one step of [`sync`] reads once per tenant.
#[derive(Debug, Default)]
struct TenantFacts {
    tenants: HashMap<TenantId, Tenant>,
    holds: HashMap<TenantId, Vec<Hold>>,
    floors: HashMap<TenantId, Vec<RetentionFloor>>,
}

impl TenantFacts {
    async fn tenant(&mut self, app: &App, id: &TenantId) -> Result<Tenant> {
        if let Some(tenant) = self.tenants.get(id) {
            return Ok(tenant.clone());
        }
        let tenant =
            app.catalog.tenant(id).await?.ok_or_else(|| {
                anyhow!("the audit chain names tenant {id}, which the catalog lacks")
            })?;
        self.tenants.insert(id.clone(), tenant.clone());
        Ok(tenant)
    }

    async fn floors(&mut self, app: &App, id: &TenantId) -> Result<Vec<RetentionFloor>> {
        if let Some(floors) = self.floors.get(id) {
            return Ok(floors.clone());
        }
        let floors = app.catalog.retention_floors(Some(id)).await?;
        self.floors.insert(id.clone(), floors.clone());
        Ok(floors)
    }

    async fn holds(&mut self, app: &App, id: &TenantId) -> Result<Vec<Hold>> {
        if let Some(holds) = self.holds.get(id) {
            return Ok(holds.clone());
        }
        let holds = app.catalog.holds(Some(id), true).await?;
        self.holds.insert(id.clone(), holds.clone());
        Ok(holds)
    }
}

/// What a manifest needs to know about the recording's tenant at the event.
struct TenantContext<'a> {
    tenant: &'a Tenant,
    holds: &'a [Hold],
    floors: &'a [RetentionFloor],
}

/// The manifest of one event of one recording: canonical JSON (serde_json's compact form, keys
/// sorted), the exact bytes that are leaf-hashed.
fn manifest(
    app: &App,
    entry: &AuditEntry,
    event: Event,
    detail: &RecordingDetail,
    context: &TenantContext<'_>,
    hold_event: Option<&Hold>,
) -> Value {
    let TenantContext {
        tenant,
        holds,
        floors,
    } = *context;
    let retention = retention_deadline(app, &detail.recording, tenant, floors);
    let recording = &detail.recording;
    let covering: Vec<u64> = holds
        .iter()
        .filter(|hold| active_at(hold, entry.at) && scope_covers(hold, detail))
        .map(|hold| hold.id)
        .collect();
    let covered = detail
        .participants
        .iter()
        .filter(|participant| !participant.evidence.is_empty())
        .count();
    let mut value = json!({
        "format": MANIFEST_FORMAT,
        "event": event.as_str(),
        "at": time_text(&entry.at),
        "recording": recording.id,
        "tenant": tenant.id,
        "region": tenant.region,
        "source": recording.source.as_str(),
        "audit": { "seq": entry.seq, "hash": hex::encode(entry.hash) },
        "objects": detail.streams.iter().map(|stream| json!({
            "stream": stream.label,
            "size": stream.object_size,
            // The catalog's object digest is BLAKE3 of the sealed bytes (see `erase.rs`).
            "blake3": hex::encode(stream.object_sha256),
        })).collect::<Vec<_>>(),
        "metadata_sha256": metadata_digest(recording),
        "evidence": {
            "participants": detail.participants.len(),
            "covered": covered,
            "records": detail.participants.iter().map(|p| p.evidence.len()).sum::<usize>(),
            "sha256": evidence_digest(detail),
        },
        "consent": {
            "policy": tenant.consent_policy.as_str(),
            "policy_version": policy_version(app, tenant),
        },
        "retention": {
            "days": retention.retention_days,
            "rule": retention.rule.label(),
            "minimum_days": retention.minimum_days,
            "deadline": time_text(&retention.until),
        },
        "hold": { "held": !covering.is_empty(), "holds": covering },
    });
    if let Some(hold) = hold_event {
        value["hold_event"] = json!({ "hold": hold.id, "scope": hold.scope.kind() });
    }
    value
}

/// The recordings a hold's scope matched when its audit entry was written.
async fn hold_targets(app: &App, hold: &Hold, at: DateTime<Utc>) -> Result<Vec<RecordingDetail>> {
    let candidates: Vec<RecordingId> = match &hold.scope {
        HoldScope::Recording(id) => vec![*id],
        HoldScope::Participant(address) => {
            app.catalog
                .recordings_with_participant(&hold.tenant, address)
                .await?
        }
        HoldScope::Query {
            started_from,
            started_before,
            tag,
        } => {
            let filter = RecordingFilter {
                tenant: Some(hold.tenant.clone()),
                started_from: *started_from,
                started_before: *started_before,
                tag: tag.clone(),
                ..Default::default()
            };
            let mut ids = Vec::new();
            let mut page = PageRequest::first(catalog::MAX_PAGE);
            loop {
                let found = app.catalog.list_recordings(&filter, &page).await?;
                ids.extend(found.items.iter().map(|recording| recording.id));
                match found.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
            ids
        }
    };
    let mut targets = Vec::new();
    for id in candidates {
        let Some(detail) = app.catalog.recording(Some(&hold.tenant), &id).await? else {
            continue;
        };
        if detail.recording.created_at <= at && scope_covers(hold, &detail) {
            targets.push(detail);
        }
    }
    targets.sort_by_key(|detail| detail.recording.id);
    Ok(targets)
}

/// The leaves one audit entry yields.
async fn leaves_of(app: &App, facts: &mut TenantFacts, entry: &AuditEntry) -> Result<Vec<NewLeaf>> {
    let Some(event) = Event::from_action(&entry.action) else {
        return Ok(Vec::new());
    };
    let Some(tenant_id) = &entry.tenant else {
        return Ok(Vec::new());
    };
    let tenant = facts.tenant(app, tenant_id).await?;
    let holds = facts.holds(app, tenant_id).await?;
    let floors = facts.floors(app, tenant_id).await?;
    let (targets, hold_event) = match event {
        Event::Committed | Event::Erased => {
            let Some(id) = entry.recording else {
                return Ok(Vec::new());
            };
            let detail = app.catalog.recording(Some(tenant_id), &id).await?;
            (detail.into_iter().collect(), None)
        }
        Event::HoldPlaced | Event::HoldReleased => {
            let details: Value = serde_json::from_str(&entry.details).unwrap_or_default();
            let Some(hold) = details["hold"]
                .as_u64()
                .and_then(|id| holds.iter().find(|hold| hold.id == id))
            else {
                return Ok(Vec::new());
            };
            (hold_targets(app, hold, entry.at).await?, Some(hold.clone()))
        }
    };
    Ok(targets
        .iter()
        .map(|detail| NewLeaf {
            audit_seq: entry.seq,
            recording: detail.recording.id,
            tenant: tenant.id.clone(),
            event: event.as_str().to_owned(),
            manifest: manifest(
                app,
                entry,
                event,
                detail,
                &TenantContext {
                    tenant: &tenant,
                    holds: &holds,
                    floors: &floors,
                },
                hold_event.as_ref(),
            )
            .to_string(),
        })
        .collect())
}

/// Folds every audit entry after the log's cursor into the log; returns where it stands.
pub async fn sync(app: &App) -> Result<LogPosition> {
    loop {
        let position = app.catalog.log_position().await?;
        let entries = app
            .catalog
            .audit_entries(position.processed_seq, SYNC_PAGE)
            .await?;
        let Some(last) = entries.last() else {
            return Ok(position);
        };
        let mut facts = TenantFacts::default();
        let mut leaves = Vec::new();
        for entry in &entries {
            leaves.extend(leaves_of(app, &mut facts, entry).await?);
        }
        match app
            .catalog
            .append_leaves(&position, last.seq, &leaves)
            .await
        {
            Ok(_) => {}
            // Another process folded these entries in first: read again from its position.
            Err(CatalogError::Conflict(Conflict::LogMoved { .. })) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// Every leaf of the log, in order.
pub async fn all_leaves(app: &App) -> Result<Vec<Leaf>> {
    let mut leaves = Vec::new();
    loop {
        let page = app
            .catalog
            .leaves(
                leaves.len() as u64,
                catalog::transparency::MAX_LEAF_BATCH as u32,
            )
            .await?;
        if page.is_empty() {
            return Ok(leaves);
        }
        leaves.extend(page);
    }
}

/// The leaf hashes (RFC 9162 §2.1.1) of stored leaves.
pub fn leaf_hashes(leaves: &[Leaf]) -> Vec<merkle::Hash> {
    leaves
        .iter()
        .map(|leaf| merkle::leaf_hash(leaf.manifest.as_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actions_map_to_their_events_and_others_to_none() {
        for (action, event) in [
            ("import.accepted", Some(Event::Committed)),
            ("siprec.recorded", Some(Event::Committed)),
            ("hold.placed", Some(Event::HoldPlaced)),
            ("hold.released", Some(Event::HoldReleased)),
            ("recording.erased", Some(Event::Erased)),
            ("erasure.receipt", None),
            ("transcript.read", None),
        ] {
            assert_eq!(Event::from_action(action), event, "{action}");
        }
    }
}
