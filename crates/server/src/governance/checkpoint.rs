//! Signed audit checkpoints: what detects a cut-off audit tail and a rewritten history.
//!
//! A checkpoint is a signed document (`nodekey`) of kind [`CHECKPOINT_KIND`] whose body is
//! `{seq, hash, at, public_key}`: "audit entry `seq` has hash `hash`", signed by the node at
//! `at`. Checkpoints are appended, one JSON line each, to `DATA_DIR/audit/checkpoints.jsonl`
//! (opened for append only, fsynced) and mirrored in the catalog (`audit_checkpoints`), so an
//! edit of the catalog alone cannot remove them and a cut of the file alone is noticed too.
//!
//! `audit verify` checks the chain, then every checkpoint: its signature under the node key,
//! and that the chain still has entry `seq` with hash `hash`. A checkpoint beyond the chain's
//! end names a truncation; a hash that differs names a rewritten history. What it cannot see:
//! entries after the last checkpoint removed together with nothing else, or the file, the
//! mirror and the chain all rewritten by someone holding the node key. Publishing checkpoints
//! (an excerpt, a report) elsewhere is what closes that.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use catalog::audit::{AuditVerifier, StoredAuditEntry};
use catalog::transparency::CheckpointRecord;
use catalog::{AuditEntry, AuditSummary};
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::datadir::DataDir;
use crate::nodekey::{self, NodeKey};

/// The kind of a signed audit checkpoint.
pub const CHECKPOINT_KIND: &str = "onrecord.audit-checkpoint.v1";
/// The format tag of an audit excerpt.
pub const EXCERPT_FORMAT: &str = "onrecord.audit-excerpt.v1";
/// Most entries one excerpt may carry (bounds what an offline verifier reads).
pub const MAX_EXCERPT_ENTRIES: u64 = 1_000_000;

/// `DATA_DIR/audit/checkpoints.jsonl`.
pub fn file_path(data_dir: &DataDir) -> PathBuf {
    data_dir.root().join("audit").join("checkpoints.jsonl")
}

fn keyring_root(data_dir: &DataDir) -> PathBuf {
    data_dir.root().join("keyring")
}

fn time_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A checkpoint's content, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: [u8; 32],
    pub at: DateTime<Utc>,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl Checkpoint {
    fn body(&self) -> Value {
        json!({
            "seq": self.seq,
            "hash": hex::encode(self.hash),
            "at": time_text(&self.at),
            "public_key": hex::encode(self.public_key),
        })
    }

    /// The signed document.
    pub fn document(&self) -> Value {
        json!({
            "kind": CHECKPOINT_KIND,
            "body": self.body(),
            "signature": {
                "algorithm": "ed25519",
                "public_key": hex::encode(self.public_key),
                "value": hex::encode(self.signature),
            },
        })
    }

    /// Signs `(seq, hash)` at `at` (kept to milliseconds, as the catalog keeps it).
    pub fn sign(node: &NodeKey, seq: u64, hash: [u8; 32], at: DateTime<Utc>) -> Checkpoint {
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let mut checkpoint = Checkpoint {
            seq,
            hash,
            at,
            public_key: node.public_key().to_bytes(),
            signature: [0; 64],
        };
        checkpoint.signature =
            node.sign_bytes(CHECKPOINT_KIND, checkpoint.body().to_string().as_bytes());
        checkpoint
    }

    /// Verifies a signed checkpoint document with `key` and parses it.
    pub fn verify_document(document: &Value, key: &VerifyingKey) -> Result<Checkpoint> {
        let body = nodekey::verify(document, CHECKPOINT_KIND, key)?;
        let signature =
            nodekey::parse_signature(document["signature"]["value"].as_str().unwrap_or_default())?;
        Checkpoint::from_body(body, signature.to_bytes())
    }

    fn from_body(body: &Value, signature: [u8; 64]) -> Result<Checkpoint> {
        let hex32 = |field: &str| -> Result<[u8; 32]> {
            hex::decode(body[field].as_str().unwrap_or_default())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| anyhow!("checkpoint {field} is not 64 hex digits"))
        };
        Ok(Checkpoint {
            seq: body["seq"]
                .as_u64()
                .ok_or_else(|| anyhow!("checkpoint seq is not a number"))?,
            hash: hex32("hash")?,
            at: DateTime::parse_from_rfc3339(body["at"].as_str().unwrap_or_default())
                .map_err(|_| anyhow!("checkpoint at is not an RFC 3339 time"))?
                .with_timezone(&Utc),
            public_key: hex32("public_key")?,
            signature,
        })
    }

    /// Verifies the signature of a mirrored record (rebuilding the signed body).
    fn verify_record(record: &CheckpointRecord, key: &VerifyingKey) -> Result<Checkpoint> {
        let checkpoint = Checkpoint {
            seq: record.seq,
            hash: record.hash,
            at: record.at,
            public_key: record.public_key,
            signature: record.signature,
        };
        let signature = ed25519_dalek::Signature::from_bytes(&record.signature);
        nodekey::verify_signature(
            CHECKPOINT_KIND,
            checkpoint.body().to_string().as_bytes(),
            &signature,
            key,
        )?;
        Ok(checkpoint)
    }

    fn record(&self) -> CheckpointRecord {
        CheckpointRecord {
            seq: self.seq,
            hash: self.hash,
            at: self.at,
            public_key: self.public_key,
            signature: self.signature,
        }
    }

    fn describe(&self) -> String {
        format!("seq {} signed at {}", self.seq, time_text(&self.at))
    }
}

/// Appends one line to the checkpoint file: append-only open, then fsync of the file (and of
/// the folder when the file is new), so a checkpoint reported as made survives a crash.
fn append_line(path: &Path, line: &str) -> Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no folder", path.display()))?;
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let created = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot append to {}", path.display()))?;
    if created {
        std::fs::File::open(folder)
            .and_then(|folder| folder.sync_all())
            .with_context(|| format!("cannot sync {}", folder.display()))?;
    }
    Ok(())
}

/// The checkpoint file's lines as `(line number, document)`; no file is no checkpoints.
fn read_file(path: &Path) -> Result<Vec<(usize, Result<Value, String>)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            (
                index + 1,
                serde_json::from_str(line).map_err(|error| error.to_string()),
            )
        })
        .collect())
}

/// What `audit verify` found when everything holds.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub intact: bool,
    pub entries: u64,
    pub last_hash: String,
    /// Distinct checkpoints verified (file and mirror together).
    pub checkpoints: usize,
    pub last_checkpoint: Option<Value>,
    /// Entries no checkpoint covers yet: a cut here would not be detected.
    pub entries_after_last_checkpoint: u64,
    /// Things worth knowing that are not failures (a checkpoint not mirrored yet).
    pub notes: Vec<String>,
}

/// Why verification failed: the chain itself, or a named checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The chain's first bad entry, when the chain itself is broken.
    pub first_bad_seq: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

fn fail(reason: String) -> Failure {
    Failure {
        first_bad_seq: None,
        reason,
    }
}

/// Verifies the chain and every checkpoint (file and mirror) against `key`.
pub async fn verify(app: &App, key: &VerifyingKey) -> Result<Result<Verified, Failure>> {
    let summary = match app.catalog.verify_audit().await? {
        Ok(summary) => summary,
        Err(broken) => {
            return Ok(Err(Failure {
                first_bad_seq: Some(broken.seq),
                reason: format!(
                    "audit chain broken at entry {}: {}",
                    broken.seq, broken.reason
                ),
            }));
        }
    };
    let path = file_path(&app.data_dir);
    let mut from_file = Vec::new();
    for (number, (line, parsed)) in read_file(&path)?.into_iter().enumerate() {
        let name = format!(
            "checkpoint {} (line {line} of {})",
            number + 1,
            path.display()
        );
        let document = match parsed {
            Ok(document) => document,
            Err(error) => return Ok(Err(fail(format!("{name} is not JSON: {error}")))),
        };
        match Checkpoint::verify_document(&document, key) {
            Ok(checkpoint) => from_file.push((name, checkpoint)),
            Err(error) => return Ok(Err(fail(format!("{name} does not verify: {error}")))),
        }
    }
    let mut notes = Vec::new();
    let mirrored = app.catalog.mirrored_checkpoints().await?;
    for record in &mirrored {
        let checkpoint = match Checkpoint::verify_record(record, key) {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                return Ok(Err(fail(format!(
                    "the catalog's checkpoint mirror row for seq {} does not verify: {error}",
                    record.seq
                ))));
            }
        };
        if !from_file.iter().any(|(_, stored)| *stored == checkpoint) {
            return Ok(Err(fail(format!(
                "checkpoint {} is in the catalog's mirror but missing from {}: the file was cut or edited",
                checkpoint.describe(),
                path.display()
            ))));
        }
    }
    for (name, checkpoint) in &from_file {
        if !mirrored.contains(&checkpoint.record()) {
            notes.push(format!("{name} is not mirrored in the catalog"));
        }
        if let Some(reason) = pinned_mismatch(app, &summary, checkpoint).await? {
            return Ok(Err(fail(format!(
                "{name}, {}: {reason}",
                checkpoint.describe()
            ))));
        }
    }
    let last = from_file
        .iter()
        .map(|(_, checkpoint)| checkpoint)
        .max_by_key(|checkpoint| (checkpoint.seq, checkpoint.at));
    Ok(Ok(Verified {
        intact: true,
        entries: summary.entries,
        last_hash: hex::encode(summary.last_hash),
        checkpoints: from_file.len(),
        last_checkpoint: last.map(|checkpoint| checkpoint.body()),
        entries_after_last_checkpoint: summary.entries
            - last.map_or(0, |c| c.seq.min(summary.entries)),
        notes,
    }))
}

/// Whether the verified chain contradicts a checkpoint, and how.
async fn pinned_mismatch(
    app: &App,
    summary: &AuditSummary,
    checkpoint: &Checkpoint,
) -> Result<Option<String>> {
    if checkpoint.seq == 0 {
        return Ok(Some("a checkpoint pins no entry (seq 0)".into()));
    }
    if checkpoint.seq > summary.entries {
        return Ok(Some(format!(
            "the audit chain ends at entry {} but this checkpoint pins entry {}: entries were cut off (truncation)",
            summary.entries, checkpoint.seq
        )));
    }
    let entry = app
        .catalog
        .audit_entries(checkpoint.seq - 1, 1)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("audit entry {} vanished while verifying", checkpoint.seq))?;
    if entry.hash != checkpoint.hash {
        return Ok(Some(format!(
            "audit entry {} has hash {} but the checkpoint pins {}: the history up to it was rewritten",
            checkpoint.seq,
            hex::encode(entry.hash),
            hex::encode(checkpoint.hash)
        )));
    }
    Ok(None)
}

/// Stores a signed checkpoint: the file first (the primary copy), then the mirror.
async fn store(app: &App, checkpoint: &Checkpoint) -> Result<()> {
    append_line(
        &file_path(&app.data_dir),
        &checkpoint.document().to_string(),
    )?;
    app.catalog.mirror_checkpoint(&checkpoint.record()).await?;
    Ok(())
}

fn node_key(data_dir: &DataDir) -> Result<NodeKey> {
    Ok(NodeKey::load_or_create(&keyring_root(data_dir))?)
}

/// Verifies everything, then signs a checkpoint of the chain's head. Refuses to sign a chain
/// that does not verify (signing it would vouch for the damage). `None` for an empty chain.
pub async fn make(app: &App) -> Result<Option<Checkpoint>> {
    let node = node_key(&app.data_dir)?;
    let verified = verify(app, &node.public_key())
        .await?
        .map_err(|failure| anyhow!("not signing a checkpoint: {failure}"))?;
    if verified.entries == 0 {
        return Ok(None);
    }
    let head = app
        .catalog
        .audit_entries(verified.entries - 1, 1)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("audit entry {} vanished", verified.entries))?;
    let checkpoint = Checkpoint::sign(&node, head.seq, head.hash, app.clock.wall());
    store(app, &checkpoint).await?;
    Ok(Some(checkpoint))
}

/// A checkpoint when the chain grew since the last one (the periodic one of `serve`).
pub async fn make_if_grown(app: &App) -> Result<Option<Checkpoint>> {
    let last_seq = app
        .catalog
        .mirrored_checkpoints()
        .await?
        .iter()
        .map(|record| record.seq)
        .max()
        .unwrap_or(0);
    let head = app.catalog.audit_entries(last_seq, 1).await?;
    if head.is_empty() {
        return Ok(None);
    }
    make(app).await
}

fn entry_json(entry: &AuditEntry) -> Value {
    json!({
        "seq": entry.seq,
        "at": time_text(&entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "tenant": entry.tenant.as_ref().map(|tenant| tenant.as_str()),
        "recording": entry.recording.map(|id| id.to_string()),
        "details": entry.details,
        "prev_hash": hex::encode(entry.prev_hash),
        "hash": hex::encode(entry.hash),
    })
}

/// `audit export`: entries `from..=to` (default: to the head), the `prev_hash` of the first,
/// and a signed checkpoint pinning the last (an existing one, else one made now).
pub async fn export(app: &App, from: u64, to: Option<u64>) -> Result<Value> {
    let node = node_key(&app.data_dir)?;
    let verified = verify(app, &node.public_key())
        .await?
        .map_err(|failure| anyhow!("not exporting from a chain that does not verify: {failure}"))?;
    let to = to.unwrap_or(verified.entries);
    if from == 0 || from > to || to > verified.entries {
        bail!(
            "--from and --to must satisfy 1 <= from <= to <= {} (the last entry)",
            verified.entries
        );
    }
    if to - from + 1 > MAX_EXCERPT_ENTRIES {
        bail!("an excerpt holds at most {MAX_EXCERPT_ENTRIES} entries");
    }
    let mut entries = Vec::new();
    let mut after = from - 1;
    while after < to {
        let limit = u32::try_from((to - after).min(u64::from(catalog::MAX_AUDIT_PAGE)))?;
        let page = app.catalog.audit_entries(after, limit).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        entries.extend(page);
    }
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        bail!("no audit entries between {from} and {to}");
    };
    let existing = read_file(&file_path(&app.data_dir))?
        .into_iter()
        .filter_map(|(_, parsed)| parsed.ok())
        .filter_map(|document| Checkpoint::verify_document(&document, &node.public_key()).ok())
        .find(|checkpoint| checkpoint.seq == last.seq && checkpoint.hash == last.hash);
    let checkpoint = match existing {
        Some(checkpoint) => checkpoint,
        None => {
            let checkpoint = Checkpoint::sign(&node, last.seq, last.hash, app.clock.wall());
            store(app, &checkpoint).await?;
            checkpoint
        }
    };
    Ok(json!({
        "format": EXCERPT_FORMAT,
        "from": first.seq,
        "to": last.seq,
        "prev_hash": hex::encode(first.prev_hash),
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "checkpoint": checkpoint.document(),
    }))
}

fn stored_entry(value: &Value, position: usize) -> Result<StoredAuditEntry> {
    let text = |field: &str| -> Result<String> {
        value[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("entry {position} of the excerpt has no {field}"))
    };
    let optional = |field: &str| -> Result<Option<String>> {
        match &value[field] {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text.clone())),
            _ => bail!("entry {position} of the excerpt: {field} is not text"),
        }
    };
    let bytes = |field: &str| -> Result<Vec<u8>> {
        hex::decode(text(field)?)
            .map_err(|_| anyhow!("entry {position} of the excerpt: {field} is not hex"))
    };
    let at = DateTime::parse_from_rfc3339(&text("at")?)
        .map_err(|_| anyhow!("entry {position} of the excerpt: at is not an RFC 3339 time"))?;
    Ok(StoredAuditEntry {
        seq: value["seq"]
            .as_i64()
            .ok_or_else(|| anyhow!("entry {position} of the excerpt has no seq"))?,
        at_millis: at.timestamp_millis(),
        actor: text("actor")?,
        action: text("action")?,
        tenant: optional("tenant")?,
        recording: optional("recording")?,
        details: text("details")?,
        prev_hash: bytes("prev_hash")?,
        hash: bytes("hash")?,
    })
}

/// What an excerpt that verifies covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptVerified {
    pub from: u64,
    pub to: u64,
    pub checkpoint_at: DateTime<Utc>,
}

/// Verifies an excerpt offline: every entry's hash recomputed (`catalog::audit`), every link,
/// the checkpoint's signature under `key`, and that the checkpoint pins the last entry.
pub fn verify_excerpt(excerpt: &Value, key: &VerifyingKey) -> Result<ExcerptVerified> {
    if excerpt["format"] != EXCERPT_FORMAT {
        bail!(
            "not an onrecord audit excerpt (format {})",
            excerpt["format"]
        );
    }
    let entries = excerpt["entries"]
        .as_array()
        .filter(|entries| !entries.is_empty())
        .ok_or_else(|| anyhow!("the excerpt holds no entries"))?;
    if entries.len() as u64 > MAX_EXCERPT_ENTRIES {
        bail!("an excerpt holds at most {MAX_EXCERPT_ENTRIES} entries");
    }
    let from = excerpt["from"]
        .as_u64()
        .filter(|from| *from >= 1)
        .ok_or_else(|| anyhow!("the excerpt's from is not an entry number"))?;
    let prev_hash: [u8; 32] = hex::decode(excerpt["prev_hash"].as_str().unwrap_or_default())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| anyhow!("the excerpt's prev_hash is not 64 hex digits"))?;
    let mut verifier = AuditVerifier::resume(from - 1, prev_hash);
    for (position, value) in entries.iter().enumerate() {
        let entry = stored_entry(value, position + 1)?;
        verifier
            .push(&entry)
            .map_err(|broken| anyhow!("the excerpt does not verify: {broken}"))?;
    }
    let summary = verifier.finish();
    if excerpt["to"].as_u64() != Some(summary.entries) {
        bail!(
            "the excerpt says it ends at entry {} but its entries end at {}",
            excerpt["to"],
            summary.entries
        );
    }
    let checkpoint = Checkpoint::verify_document(&excerpt["checkpoint"], key)
        .map_err(|error| anyhow!("the excerpt's checkpoint does not verify: {error}"))?;
    if checkpoint.seq != summary.entries || checkpoint.hash != summary.last_hash {
        bail!(
            "the checkpoint pins entry {} ({}), not the excerpt's last entry {} ({})",
            checkpoint.seq,
            hex::encode(checkpoint.hash),
            summary.entries,
            hex::encode(summary.last_hash)
        );
    }
    Ok(ExcerptVerified {
        from,
        to: summary.entries,
        checkpoint_at: checkpoint.at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_and_any_change_to_seq_hash_or_signature_fails()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let node = NodeKey::load_or_create(dir.path())?;
        let at = DateTime::from_timestamp_millis(1_795_860_000_123).unwrap_or_default();
        let checkpoint = Checkpoint::sign(&node, 42, [9; 32], at);
        let document = checkpoint.document();
        let parsed = Checkpoint::verify_document(&document, &node.public_key())?;
        assert_eq!(parsed, checkpoint);
        // The mirror's form verifies too.
        assert_eq!(
            Checkpoint::verify_record(&checkpoint.record(), &node.public_key())?,
            checkpoint
        );
        let mut moved = document.clone();
        moved["body"]["seq"] = json!(41);
        assert!(Checkpoint::verify_document(&moved, &node.public_key()).is_err());
        let mut rehashed = document.clone();
        rehashed["body"]["hash"] = json!(hex::encode([8u8; 32]));
        assert!(Checkpoint::verify_document(&rehashed, &node.public_key()).is_err());
        let mut forged = document.clone();
        forged["signature"]["value"] = json!(hex::encode([1u8; 64]));
        assert!(Checkpoint::verify_document(&forged, &node.public_key()).is_err());
        let mut record = checkpoint.record();
        record.seq = 43;
        assert!(Checkpoint::verify_record(&record, &node.public_key()).is_err());
        Ok(())
    }
}
