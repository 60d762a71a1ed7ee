//! The hash-chained audit log, sans-IO: how an entry is hashed and how a chain is verified.
//! Both backends store [`StoredAuditEntry`] rows and call [`chain_hash`] and
//! [`verify_entries`] / [`AuditVerifier`]; nothing here touches a database.
//!
//! `hash = SHA-256(DOMAIN_TAG ‖ prev_hash ‖ seq ‖ at ‖ actor ‖ action ‖ tenant ‖ recording ‖
//! details)`, where integers are 8-byte big-endian, every text is length-prefixed (8-byte
//! big-endian length, then its bytes) and an optional text is `0x00` when absent or `0x01`
//! followed by the length-prefixed text. Entry 1's `prev_hash` is 32 zero bytes. The encoding
//! is injective, so no two different entries hash the same input.
//!
//! What the chain proves: changing any byte of any field of any stored entry, deleting an entry
//! that has a successor, or swapping two entries makes [`verify_entries`] report the first bad
//! entry. What it cannot prove on its own: that the tail was not cut off. Deleting the last
//! entries leaves a shorter chain that verifies; detecting truncation takes signed
//! checkpoints of `(seq, hash)` kept outside the catalog (the server's `audit checkpoint`, an
//! append-only file signed with the node key). The chain has no key either: someone who can
//! write the database can recompute every hash after an edit, so the same signed checkpoints
//! are also what pins the history before them.

use std::fmt;

use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::CatalogError;
use crate::time::{from_millis, to_millis};

/// Domain separation for audit entry hashes (version 1 of the encoding).
pub const DOMAIN_TAG: &[u8] = b"onrecord/audit-entry/v1\0";

/// The `prev_hash` of entry 1.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// Bounds on what one entry may hold, so a caller cannot grow a row without limit.
pub const MAX_ACTOR_BYTES: usize = 256;
pub const MAX_ACTION_BYTES: usize = 64;
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// What a caller supplies for an audit entry; the catalog assigns `seq` and the hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Epoch-millisecond precision is kept; finer precision is dropped.
    pub at: DateTime<Utc>,
    /// Who acted: `cli:root`, a token id, `siprec:<client>`. Never a person's address.
    pub actor: String,
    /// A code such as `tenant.created`, `import.accepted`, `recording.shown`.
    pub action: String,
    pub tenant: Option<TenantId>,
    pub recording: Option<RecordingId>,
    /// Facts about the action. Serialized once (serde_json, deterministic for a given value)
    /// and the exact string is stored and hashed. Keep personal data out of it.
    pub details: Value,
}

/// The audit part of a write that belongs to a larger transaction (a tenant registration, a
/// recording commit, a refusal, an erasure): the catalog fills in time, tenant and recording.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditNote {
    pub actor: String,
    pub action: String,
    pub details: Value,
}

impl AuditNote {
    pub fn new(actor: impl Into<String>, action: impl Into<String>, details: Value) -> AuditNote {
        AuditNote {
            actor: actor.into(),
            action: action.into(),
            details,
        }
    }

    pub(crate) fn entry(
        &self,
        at: DateTime<Utc>,
        tenant: Option<&TenantId>,
        recording: Option<&RecordingId>,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            tenant: tenant.cloned(),
            recording: recording.copied(),
            details: self.details.clone(),
        }
    }
}

/// One entry of the chain, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub tenant: Option<TenantId>,
    pub recording: Option<RecordingId>,
    /// The exact JSON text that was hashed.
    pub details: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// One entry as stored: text as text, hashes as raw bytes, nothing parsed. Verification works
/// on this form so that a tampered value which no longer parses is still reported as a break
/// at its `seq`, not as an unrelated error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    pub seq: i64,
    pub at_millis: i64,
    pub actor: String,
    pub action: String,
    pub tenant: Option<String>,
    pub recording: Option<String>,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The fields that are hashed, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct AuditFields<'a> {
    pub seq: u64,
    pub at_millis: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub tenant: Option<&'a str>,
    pub recording: Option<&'a str>,
    pub details: &'a str,
}

/// The hash of one entry given the hash of the entry before it.
pub fn chain_hash(prev_hash: &[u8; 32], fields: &AuditFields<'_>) -> [u8; 32] {
    fn text(hasher: &mut Sha256, value: &str) {
        hasher.update((value.len() as u64).to_be_bytes());
        hasher.update(value.as_bytes());
    }
    fn optional(hasher: &mut Sha256, value: Option<&str>) {
        match value {
            None => hasher.update([0x00]),
            Some(value) => {
                hasher.update([0x01]);
                text(hasher, value);
            }
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN_TAG);
    hasher.update(prev_hash);
    hasher.update(fields.seq.to_be_bytes());
    hasher.update(fields.at_millis.to_be_bytes());
    text(&mut hasher, fields.actor);
    text(&mut hasher, fields.action);
    optional(&mut hasher, fields.tenant);
    optional(&mut hasher, fields.recording);
    text(&mut hasher, fields.details);
    hasher.finalize().into()
}

/// A checked new entry, ready to be chained: details serialized, sizes bounded.
#[derive(Debug, Clone)]
pub(crate) struct PreparedAuditEntry {
    pub at_millis: i64,
    pub actor: String,
    pub action: String,
    pub tenant: Option<String>,
    pub recording: Option<String>,
    pub details: String,
}

impl PreparedAuditEntry {
    pub fn new(entry: &NewAuditEntry) -> Result<PreparedAuditEntry, CatalogError> {
        let details = serde_json::to_string(&entry.details)
            .map_err(|error| CatalogError::Invalid(format!("audit details: {error}")))?;
        if entry.actor.is_empty() || entry.actor.len() > MAX_ACTOR_BYTES {
            return Err(CatalogError::Invalid(format!(
                "audit actor must be 1 to {MAX_ACTOR_BYTES} bytes"
            )));
        }
        if entry.action.is_empty() || entry.action.len() > MAX_ACTION_BYTES {
            return Err(CatalogError::Invalid(format!(
                "audit action must be 1 to {MAX_ACTION_BYTES} bytes"
            )));
        }
        if details.len() > MAX_DETAILS_BYTES {
            return Err(CatalogError::Invalid(format!(
                "audit details must be at most {MAX_DETAILS_BYTES} bytes"
            )));
        }
        Ok(PreparedAuditEntry {
            at_millis: to_millis(&entry.at),
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            tenant: entry
                .tenant
                .as_ref()
                .map(|tenant| tenant.as_str().to_owned()),
            recording: entry.recording.map(|recording| recording.to_string()),
            details,
        })
    }

    /// Chain this entry after `(last_seq, last_hash)`.
    pub fn chain(self, last_seq: u64, last_hash: [u8; 32]) -> StoredAuditEntry {
        let seq = last_seq + 1;
        let hash = chain_hash(
            &last_hash,
            &AuditFields {
                seq,
                at_millis: self.at_millis,
                actor: &self.actor,
                action: &self.action,
                tenant: self.tenant.as_deref(),
                recording: self.recording.as_deref(),
                details: &self.details,
            },
        );
        StoredAuditEntry {
            seq: i64::try_from(seq).unwrap_or(i64::MAX),
            at_millis: self.at_millis,
            actor: self.actor,
            action: self.action,
            tenant: self.tenant,
            recording: self.recording,
            details: self.details,
            prev_hash: last_hash.to_vec(),
            hash: hash.to_vec(),
        }
    }
}

impl StoredAuditEntry {
    /// The typed form; a value that does not parse is [`CatalogError::Corrupt`].
    pub fn to_entry(&self) -> Result<AuditEntry, CatalogError> {
        let corrupt =
            |column: &'static str, reason: String| CatalogError::Corrupt { column, reason };
        Ok(AuditEntry {
            seq: u64::try_from(self.seq).map_err(|_| corrupt("audit.seq", "negative".into()))?,
            at: from_millis("audit.at", self.at_millis)?,
            actor: self.actor.clone(),
            action: self.action.clone(),
            tenant: self
                .tenant
                .as_deref()
                .map(TenantId::new)
                .transpose()
                .map_err(|error| corrupt("audit.tenant_id", error.to_string()))?,
            recording: self
                .recording
                .as_deref()
                .map(str::parse::<RecordingId>)
                .transpose()
                .map_err(|error| corrupt("audit.recording_id", error.to_string()))?,
            details: self.details.clone(),
            prev_hash: hash32(&self.prev_hash)
                .ok_or_else(|| corrupt("audit.prev_hash", "not 32 bytes".into()))?,
            hash: hash32(&self.hash).ok_or_else(|| corrupt("audit.hash", "not 32 bytes".into()))?,
        })
    }

    /// Last `(seq, hash)` of a chain ending in this entry.
    pub(crate) fn head(&self) -> Result<(u64, [u8; 32]), CatalogError> {
        let seq = u64::try_from(self.seq).map_err(|_| CatalogError::Corrupt {
            column: "audit.seq",
            reason: "negative".into(),
        })?;
        let hash = hash32(&self.hash).ok_or_else(|| CatalogError::Corrupt {
            column: "audit.hash",
            reason: "not 32 bytes".into(),
        })?;
        Ok((seq, hash))
    }
}

fn hash32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// A chain that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditSummary {
    /// Number of entries (equal to the last `seq`).
    pub entries: u64,
    /// Hash of the last entry; [`GENESIS_HASH`] for an empty chain. A signed checkpoint of
    /// `(entries, last_hash)` is what later detects truncation.
    pub last_hash: [u8; 32],
}

/// Why a chain does not verify, and at which entry (the first bad one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {reason}")]
pub struct AuditBreak {
    pub seq: u64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// The entry with this `seq` is missing: the next stored entry has a higher `seq`.
    Missing { next_stored: i64 },
    /// A stored `seq` lower than expected (a duplicate or reordered entry).
    OutOfOrder { stored: i64 },
    /// `prev_hash` is not the hash of the entry before.
    PrevHashMismatch,
    /// The entry's fields do not hash to its stored `hash`.
    HashMismatch,
    /// A stored field could not be read.
    Unreadable { field: &'static str },
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::Missing { next_stored } => {
                write!(f, "entry missing (next stored entry is {next_stored})")
            }
            BreakReason::OutOfOrder { stored } => write!(f, "entry out of order (stored {stored})"),
            BreakReason::PrevHashMismatch => f.write_str("prev_hash is not the previous hash"),
            BreakReason::HashMismatch => f.write_str("fields do not match the stored hash"),
            BreakReason::Unreadable { field } => write!(f, "field {field} unreadable"),
        }
    }
}

/// Streaming verification: feed entries in stored `seq` order, then [`AuditVerifier::finish`].
#[derive(Debug, Clone)]
pub struct AuditVerifier {
    last_seq: u64,
    last_hash: [u8; 32],
}

impl Default for AuditVerifier {
    fn default() -> Self {
        AuditVerifier::new()
    }
}

impl AuditVerifier {
    pub fn new() -> AuditVerifier {
        AuditVerifier {
            last_seq: 0,
            last_hash: GENESIS_HASH,
        }
    }

    /// A verifier that continues a chain after entry `last_seq` whose hash is `last_hash`:
    /// how an excerpt is checked without the entries before it.
    pub fn resume(last_seq: u64, last_hash: [u8; 32]) -> AuditVerifier {
        AuditVerifier {
            last_seq,
            last_hash,
        }
    }

    /// The `seq` the next entry must carry.
    pub fn expected_seq(&self) -> u64 {
        self.last_seq + 1
    }

    /// Report a row the backend could not decode, at the position it was read.
    pub fn unreadable(&self, field: &'static str) -> AuditBreak {
        AuditBreak {
            seq: self.expected_seq(),
            reason: BreakReason::Unreadable { field },
        }
    }

    pub fn push(&mut self, entry: &StoredAuditEntry) -> Result<(), AuditBreak> {
        let expected = self.expected_seq();
        let broken = |reason| AuditBreak {
            seq: expected,
            reason,
        };
        match u64::try_from(entry.seq) {
            Ok(seq) if seq == expected => {}
            Ok(seq) if seq > expected => {
                return Err(broken(BreakReason::Missing {
                    next_stored: entry.seq,
                }));
            }
            _ => return Err(broken(BreakReason::OutOfOrder { stored: entry.seq })),
        }
        if entry.prev_hash.as_slice() != self.last_hash.as_slice() {
            return Err(broken(BreakReason::PrevHashMismatch));
        }
        let computed = chain_hash(
            &self.last_hash,
            &AuditFields {
                seq: expected,
                at_millis: entry.at_millis,
                actor: &entry.actor,
                action: &entry.action,
                tenant: entry.tenant.as_deref(),
                recording: entry.recording.as_deref(),
                details: &entry.details,
            },
        );
        if entry.hash.as_slice() != computed.as_slice() {
            return Err(broken(BreakReason::HashMismatch));
        }
        self.last_seq = expected;
        self.last_hash = computed;
        Ok(())
    }

    pub fn finish(self) -> AuditSummary {
        AuditSummary {
            entries: self.last_seq,
            last_hash: self.last_hash,
        }
    }
}

/// Verify a whole chain given in stored `seq` order; reports the first bad entry.
pub fn verify_entries<'a>(
    entries: impl IntoIterator<Item = &'a StoredAuditEntry>,
) -> Result<AuditSummary, AuditBreak> {
    let mut verifier = AuditVerifier::new();
    for entry in entries {
        verifier.push(entry)?;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(count: u64) -> Vec<StoredAuditEntry> {
        let mut entries: Vec<StoredAuditEntry> = Vec::new();
        let (mut seq, mut hash) = (0, GENESIS_HASH);
        for index in 0..count {
            let prepared = PreparedAuditEntry {
                at_millis: 1_700_000_000_000 + index as i64,
                actor: "cli:root".into(),
                action: "recording.shown".into(),
                tenant: Some("acme".into()),
                recording: None,
                details: format!("{{\"n\":{index}}}"),
            };
            let stored = prepared.chain(seq, hash);
            (seq, hash) = stored.head().unwrap_or((0, GENESIS_HASH));
            entries.push(stored);
        }
        entries
    }

    #[test]
    fn intact_chain_verifies_with_its_length_and_last_hash() {
        let entries = chain(5);
        let summary = verify_entries(&entries);
        assert_eq!(
            summary.map(|summary| summary.entries),
            Ok(5),
            "intact chain must verify"
        );
        assert_eq!(verify_entries(&[]).map(|s| s.last_hash), Ok(GENESIS_HASH));
    }

    #[test]
    fn absent_and_empty_optional_fields_hash_differently() {
        let base = AuditFields {
            seq: 1,
            at_millis: 0,
            actor: "a",
            action: "b",
            tenant: None,
            recording: None,
            details: "{}",
        };
        let empty = AuditFields {
            tenant: Some(""),
            ..base
        };
        assert_ne!(
            chain_hash(&GENESIS_HASH, &base),
            chain_hash(&GENESIS_HASH, &empty)
        );
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_hash() {
        let one = AuditFields {
            seq: 1,
            at_millis: 0,
            actor: "ab",
            action: "c",
            tenant: None,
            recording: None,
            details: "{}",
        };
        let other = AuditFields {
            actor: "a",
            action: "bc",
            ..one
        };
        assert_ne!(
            chain_hash(&GENESIS_HASH, &one),
            chain_hash(&GENESIS_HASH, &other)
        );
    }

    #[test]
    fn changed_details_is_reported_at_that_entry() {
        let mut entries = chain(4);
        entries[2].details = "{\"n\":9}".into();
        let outcome = verify_entries(&entries);
        assert_eq!(
            outcome,
            Err(AuditBreak {
                seq: 3,
                reason: BreakReason::HashMismatch
            })
        );
    }

    #[test]
    fn deleted_entry_is_reported_as_missing() {
        let mut entries = chain(4);
        entries.remove(1);
        let outcome = verify_entries(&entries);
        assert_eq!(
            outcome,
            Err(AuditBreak {
                seq: 2,
                reason: BreakReason::Missing { next_stored: 3 }
            })
        );
    }

    #[test]
    fn swapped_entries_are_reported_at_the_first_of_them() {
        let mut entries = chain(4);
        entries.swap(1, 2);
        assert_eq!(verify_entries(&entries).map_err(|b| b.seq), Err(2));
    }

    #[test]
    fn truncated_tail_still_verifies_which_is_why_checkpoints_exist() {
        let mut entries = chain(4);
        entries.pop();
        assert_eq!(verify_entries(&entries).map(|s| s.entries), Ok(3));
    }
}
