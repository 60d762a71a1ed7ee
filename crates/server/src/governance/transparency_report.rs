//! `onrecord report transparency` and its proofs: the operator's content-blind figures per
//! tenant and region, a signed tree head over the transparency log, inclusion proofs for a
//! recording's leaves (RFC 9162 §2.1.3), consistency proofs between two tree heads (§2.1.4),
//! and their offline verification with the node's public key alone.
//!
//! Every figure here is a count, a percentage, a reason code, an id or a digest; nothing reads
//! participants' addresses or names or any transcript.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use catalog::{RecordingFilter, RecordingState};
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::VerifyingKey;
use model::{RecordingId, TenantId};
use serde_json::{Value, json};

use super::transparency::{all_leaves, leaf_hashes, sync};
use crate::app::App;
use crate::nodekey::{self, NodeKey};

/// The kind of a signed tree head.
pub const TREE_HEAD_KIND: &str = "onrecord.transparency-tree-head.v1";
pub const REPORT_FORMAT: &str = "onrecord.transparency-report.v1";
pub const INCLUSION_FORMAT: &str = "onrecord.transparency-inclusion.v1";
pub const CONSISTENCY_FORMAT: &str = "onrecord.transparency-consistency.v1";

fn time_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A tree head: the log's size and root at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: merkle::Hash,
}

impl TreeHead {
    fn sign(&self, node: &NodeKey, at: DateTime<Utc>) -> Value {
        node.sign(
            TREE_HEAD_KIND,
            json!({
                "tree_size": self.size,
                "root_hash": hex::encode(self.root),
                "at": time_text(&at),
                "hash_algorithm": "sha256 (RFC 9162 §2.1.1)",
            }),
        )
    }

    /// Verifies a signed tree head with `key` and reads it.
    pub fn verify(document: &Value, key: &VerifyingKey) -> Result<TreeHead> {
        let body = nodekey::verify(document, TREE_HEAD_KIND, key)
            .map_err(|error| anyhow!("the tree head does not verify: {error}"))?;
        Ok(TreeHead {
            size: body["tree_size"]
                .as_u64()
                .ok_or_else(|| anyhow!("the tree head has no tree_size"))?,
            root: hash(&body["root_hash"], "root_hash")?,
        })
    }
}

fn hash(value: &Value, what: &str) -> Result<merkle::Hash> {
    hex::decode(value.as_str().unwrap_or_default())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| anyhow!("{what} is not 64 hex digits"))
}

fn hashes(value: &Value, what: &str) -> Result<Vec<merkle::Hash>> {
    let items = value
        .as_array()
        .ok_or_else(|| anyhow!("{what} is not a list of hashes"))?;
    if items.len() > merkle::MAX_PROOF_LENGTH {
        bail!(
            "{what} has {} hashes, more than any tree needs",
            items.len()
        );
    }
    items.iter().map(|item| hash(item, what)).collect()
}

fn node_key(app: &App) -> Result<NodeKey> {
    Ok(NodeKey::load_or_create(
        &app.data_dir.root().join("keyring"),
    )?)
}

/// The log brought up to date, its leaves, their hashes and a freshly signed tree head.
struct Snapshot {
    leaves: Vec<catalog::transparency::Leaf>,
    hashes: Vec<merkle::Hash>,
    head: TreeHead,
    signed_head: Value,
    processed_seq: u64,
}

async fn snapshot(app: &App, node: &NodeKey) -> Result<Snapshot> {
    let position = sync(app).await?;
    let leaves = all_leaves(app).await?;
    let hashes = leaf_hashes(&leaves);
    let head = TreeHead {
        size: hashes.len() as u64,
        root: merkle::root(&hashes),
    };
    let signed_head = head.sign(node, app.clock.wall());
    Ok(Snapshot {
        leaves,
        hashes,
        head,
        signed_head,
        processed_seq: position.processed_seq,
    })
}

fn percent(part: u64, whole: u64) -> Value {
    if whole == 0 {
        return Value::Null;
    }
    json!((part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

/// `report transparency`: figures per tenant and region, with the signed tree head.
pub async fn report(app: &App, only: Option<&TenantId>) -> Result<Value> {
    let node = node_key(app)?;
    let snapshot = snapshot(app, &node).await?;
    let mut rows = Vec::new();
    for tenant in app.catalog.tenants().await? {
        if only.is_some_and(|only| *only != tenant.id) {
            continue;
        }
        let count = async |state| {
            app.catalog
                .count_recordings(&RecordingFilter {
                    tenant: Some(tenant.id.clone()),
                    state: Some(state),
                    ..Default::default()
                })
                .await
        };
        let (committed, erased) = (
            count(RecordingState::Committed).await?,
            count(RecordingState::Erased).await?,
        );
        let mut events: BTreeMap<String, u64> = BTreeMap::new();
        let (mut logged, mut with_evidence) = (0u64, 0u64);
        for leaf in snapshot
            .leaves
            .iter()
            .filter(|leaf| leaf.tenant == tenant.id)
        {
            *events.entry(leaf.event.clone()).or_default() += 1;
            if leaf.event != "committed" {
                continue;
            }
            logged += 1;
            let manifest: Value = serde_json::from_str(&leaf.manifest).unwrap_or_default();
            let evidence = &manifest["evidence"];
            let (participants, covered) = (
                evidence["participants"].as_u64().unwrap_or(0),
                evidence["covered"].as_u64().unwrap_or(0),
            );
            let all_party = manifest["consent"]["policy"] == "all-party";
            if covered >= 1 && (!all_party || covered == participants) {
                with_evidence += 1;
            }
        }
        let coverage = app.catalog.evidence_coverage(&tenant.id).await?;
        let refusals: BTreeMap<String, u64> = app
            .catalog
            .refusal_counts(&tenant.id)
            .await?
            .into_iter()
            .collect();
        let active_holds = app.catalog.holds(Some(&tenant.id), false).await?.len();
        rows.push(json!({
            "tenant": tenant.id,
            "region": tenant.region,
            "policy": tenant.consent_policy.as_str(),
            "purpose": tenant.purpose,
            "legal_basis": tenant.legal_basis,
            "retention_days": tenant.retention_days,
            "recordings": { "committed": committed, "erased": erased },
            "evidence": {
                "recordings_logged": logged,
                "recordings_with_evidence": with_evidence,
                "coverage_percent": percent(with_evidence, logged),
                "participants": coverage.participants,
                "participants_covered": coverage.covered_participants,
            },
            "refusals": refusals,
            "erasures": events.get("erased").copied().unwrap_or(0),
            "active_holds": active_holds,
            "log_events": events,
        }));
    }
    Ok(json!({
        "format": REPORT_FORMAT,
        "generated_at": time_text(&app.clock.wall()),
        "tenants": rows,
        "log": {
            "leaves": snapshot.head.size,
            "audit_entries_folded_in": snapshot.processed_seq,
        },
        "tree_head": snapshot.signed_head,
    }))
}

/// The report as text for a terminal.
pub fn report_text(report: &Value) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "transparency report, {}",
        report["generated_at"].as_str().unwrap_or("?")
    );
    for row in report["tenants"].as_array().into_iter().flatten() {
        let evidence = &row["evidence"];
        let coverage = match evidence["coverage_percent"].as_f64() {
            Some(percent) => format!("{percent:.1}%"),
            None => "n/a".into(),
        };
        let refusals: Vec<String> = row["refusals"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(reason, count)| format!("{reason} {count}"))
            .collect();
        let _ = writeln!(
            text,
            "\ntenant {} (region {}, {} policy, retention {} days)\n  recordings: {} committed, {} erased\n  consent evidence: {} of {} recordings ({coverage}), {} of {} participants covered\n  refusals: {}\n  erasures: {}, active holds: {}",
            row["tenant"].as_str().unwrap_or("?"),
            row["region"].as_str().unwrap_or("?"),
            row["policy"].as_str().unwrap_or("?"),
            row["retention_days"],
            row["recordings"]["committed"],
            row["recordings"]["erased"],
            evidence["recordings_with_evidence"],
            evidence["recordings_logged"],
            evidence["participants_covered"],
            evidence["participants"],
            if refusals.is_empty() {
                "none".into()
            } else {
                refusals.join(", ")
            },
            row["erasures"],
            row["active_holds"],
        );
    }
    let head = &report["tree_head"];
    let _ = writeln!(
        text,
        "\nsigned tree head: {} leaves, root {}, at {}, node key {}",
        head["body"]["tree_size"],
        head["body"]["root_hash"].as_str().unwrap_or("?"),
        head["body"]["at"].as_str().unwrap_or("?"),
        head["signature"]["public_key"].as_str().unwrap_or("?"),
    );
    text
}

/// `report transparency --prove ID`: the recording's leaves, each with its inclusion proof
/// against a freshly signed tree head.
pub async fn prove(app: &App, id: &RecordingId) -> Result<Value> {
    let node = node_key(app)?;
    let snapshot = snapshot(app, &node).await?;
    let mut proven = Vec::new();
    for leaf in snapshot.leaves.iter().filter(|leaf| leaf.recording == *id) {
        let proof = merkle::inclusion_proof(leaf.index, &snapshot.hashes)?;
        let manifest: Value = serde_json::from_str(&leaf.manifest)?;
        proven.push(json!({
            "index": leaf.index,
            "event": leaf.event,
            "manifest": manifest,
            "leaf_hash": hex::encode(snapshot.hashes[leaf.index as usize]),
            "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        }));
    }
    if proven.is_empty() {
        bail!("the transparency log has no leaf for recording {id}");
    }
    Ok(json!({
        "format": INCLUSION_FORMAT,
        "recording": id,
        "tree_head": snapshot.signed_head,
        "leaves": proven,
    }))
}

/// `report transparency --consistency-from OLD`: a consistency proof from the tree head in an
/// earlier report (or proof file) to a fresh one. Fails, saying so, when the log no longer
/// has the old root at the old size (it was rewritten).
pub async fn consistency(app: &App, old: &Value) -> Result<Value> {
    let node = node_key(app)?;
    let old_head_document = old
        .get("tree_head")
        .ok_or_else(|| anyhow!("the old report has no tree_head"))?;
    let old_head = TreeHead::verify(old_head_document, &node.public_key())?;
    let snapshot = snapshot(app, &node).await?;
    if old_head.size > snapshot.head.size {
        bail!(
            "the old tree head has {} leaves but the log now has {}: the log was cut",
            old_head.size,
            snapshot.head.size
        );
    }
    let old_size = usize::try_from(old_head.size)?;
    let root_then = merkle::root(&snapshot.hashes[..old_size]);
    if root_then != old_head.root {
        bail!(
            "the log's first {} leaves have root {}, not the old tree head's {}: the log was rewritten",
            old_head.size,
            hex::encode(root_then),
            hex::encode(old_head.root)
        );
    }
    let proof = merkle::consistency_proof(old_head.size, &snapshot.hashes)?;
    Ok(json!({
        "format": CONSISTENCY_FORMAT,
        "old_tree_head": old_head_document,
        "tree_head": snapshot.signed_head,
        "consistency_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    }))
}

/// Verifies an inclusion proof file offline; returns one line per proven leaf.
pub fn verify_inclusion_document(document: &Value, key: &VerifyingKey) -> Result<Vec<String>> {
    if document["format"] != INCLUSION_FORMAT {
        bail!(
            "not an onrecord inclusion proof (format {})",
            document["format"]
        );
    }
    let head = TreeHead::verify(&document["tree_head"], key)?;
    let recording = document["recording"].as_str().unwrap_or_default();
    let leaves = document["leaves"]
        .as_array()
        .filter(|leaves| !leaves.is_empty())
        .ok_or_else(|| anyhow!("the proof holds no leaves"))?;
    let mut lines = Vec::new();
    for leaf in leaves {
        let index = leaf["index"]
            .as_u64()
            .ok_or_else(|| anyhow!("a leaf has no index"))?;
        let manifest = &leaf["manifest"];
        if manifest["recording"].as_str() != Some(recording) {
            bail!("leaf {index} is not about recording {recording}");
        }
        // The leaf is the manifest's canonical JSON: what was hashed is what is shown.
        let leaf_hash = merkle::leaf_hash(manifest.to_string().as_bytes());
        let proof = hashes(&leaf["inclusion_proof"], "inclusion_proof")?;
        merkle::verify_inclusion(index, head.size, &leaf_hash, &proof, &head.root).map_err(
            |error| anyhow!("leaf {index} (the manifest as given) is not in the log: {error}"),
        )?;
        lines.push(format!(
            "leaf {index} ({} at {}) of recording {recording} is in the log of {} leaves with root {}",
            manifest["event"].as_str().unwrap_or("?"),
            manifest["at"].as_str().unwrap_or("?"),
            head.size,
            hex::encode(head.root)
        ));
    }
    Ok(lines)
}

/// Verifies a consistency proof file offline.
pub fn verify_consistency_document(document: &Value, key: &VerifyingKey) -> Result<String> {
    if document["format"] != CONSISTENCY_FORMAT {
        bail!(
            "not an onrecord consistency proof (format {})",
            document["format"]
        );
    }
    let old = TreeHead::verify(&document["old_tree_head"], key)?;
    let new = TreeHead::verify(&document["tree_head"], key)?;
    let proof = hashes(&document["consistency_proof"], "consistency_proof")?;
    merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
        .map_err(|error| anyhow!("the logs are not consistent: {error}"))?;
    Ok(format!(
        "the log of {} leaves (root {}) extends the log of {} leaves (root {}) without changing it",
        new.size,
        hex::encode(new.root),
        old.size,
        hex::encode(old.root)
    ))
}
