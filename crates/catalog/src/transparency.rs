//! What the catalog keeps for accountability beyond the audit chain: the mirror of the node's
//! signed audit checkpoints, and the leaves of the content-blind transparency log.
//!
//! The catalog stores both as opaque, append-only records: it neither signs nor verifies
//! (keys are the server's), nor decides what a leaf says (the server derives manifests from
//! the audit chain). What it guarantees: leaves get consecutive indexes from 0 and are appended
//! together with the audit position they were derived up to, in one step that fails with
//! [`Conflict::LogMoved`] when another writer appended first, so two derivations running at
//! once can never both append (the log stays one sequence, each audit entry folded in once).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use model::{RecordingId, TenantId};

use crate::error::{CatalogError, Conflict};
use crate::time::truncate_millis;

/// Bound on one manifest (they are small JSON documents).
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024;
/// Most leaves one append or one read takes.
pub const MAX_LEAF_BATCH: usize = 10_000;

/// One signed audit checkpoint as the catalog mirrors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// The audit entry it pins.
    pub seq: u64,
    /// That entry's hash.
    pub hash: [u8; 32],
    /// When it was signed (millisecond precision).
    pub at: DateTime<Utc>,
    /// The node's Ed25519 public key.
    pub public_key: [u8; 32],
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// A leaf to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeaf {
    /// The audit entry the leaf was derived from.
    pub audit_seq: u64,
    pub recording: RecordingId,
    pub tenant: TenantId,
    /// `committed`, `hold.placed`, `hold.released`, `erased`.
    pub event: String,
    /// The exact bytes that are leaf-hashed: canonical JSON, content-blind.
    pub manifest: String,
}

/// A stored leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Position in the log, from 0.
    pub index: u64,
    pub audit_seq: u64,
    pub recording: RecordingId,
    pub tenant: TenantId,
    pub event: String,
    pub manifest: String,
}

/// Where the log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogPosition {
    /// The last audit seq folded into the log (0 before any).
    pub processed_seq: u64,
    /// Number of leaves.
    pub size: u64,
}

impl CheckpointRecord {
    pub(crate) fn checked(&self) -> CheckpointRecord {
        CheckpointRecord {
            at: truncate_millis(&self.at),
            ..self.clone()
        }
    }
}

/// Checks an append before anything is written.
pub(crate) fn check_append(
    position: &LogPosition,
    expected: &LogPosition,
    processed_seq: u64,
    leaves: &[NewLeaf],
) -> Result<(), CatalogError> {
    if leaves.len() > MAX_LEAF_BATCH {
        return Err(CatalogError::Invalid(format!(
            "at most {MAX_LEAF_BATCH} leaves per append"
        )));
    }
    if processed_seq < expected.processed_seq {
        return Err(CatalogError::Invalid(
            "the processed audit seq cannot move backwards".into(),
        ));
    }
    let mut previous = expected.processed_seq;
    for leaf in leaves {
        if leaf.manifest.is_empty() || leaf.manifest.len() > MAX_MANIFEST_BYTES {
            return Err(CatalogError::Invalid(format!(
                "a leaf manifest must be 1 to {MAX_MANIFEST_BYTES} bytes"
            )));
        }
        if leaf.event.is_empty() || leaf.event.len() > 64 {
            return Err(CatalogError::Invalid(
                "a leaf event must be 1 to 64 bytes".into(),
            ));
        }
        // Leaves come from audit entries after the expected position, in order.
        if leaf.audit_seq <= expected.processed_seq
            || leaf.audit_seq > processed_seq
            || leaf.audit_seq < previous
        {
            return Err(CatalogError::Invalid(format!(
                "leaf from audit entry {} is outside ({}, {processed_seq}] or out of order",
                leaf.audit_seq, expected.processed_seq
            )));
        }
        previous = leaf.audit_seq;
    }
    if position != expected {
        return Err(Conflict::LogMoved {
            expected_seq: expected.processed_seq,
            actual_seq: position.processed_seq,
        }
        .into());
    }
    Ok(())
}

pub(crate) fn check_leaf_limit(limit: u32) -> Result<(), CatalogError> {
    if limit == 0 || limit as usize > MAX_LEAF_BATCH {
        return Err(CatalogError::Invalid(format!(
            "leaf page limit must be 1 to {MAX_LEAF_BATCH}"
        )));
    }
    Ok(())
}

/// The checkpoint mirror and the transparency log, a supertrait of [`crate::Catalog`].
#[async_trait]
pub trait TransparencyStore: Send + Sync {
    /// Mirror a signed checkpoint. Storing the same `(seq, at)` twice keeps the first.
    async fn mirror_checkpoint(&self, checkpoint: &CheckpointRecord) -> Result<(), CatalogError>;

    /// Every mirrored checkpoint, by seq then time.
    async fn mirrored_checkpoints(&self) -> Result<Vec<CheckpointRecord>, CatalogError>;

    /// Where the log stands.
    async fn log_position(&self) -> Result<LogPosition, CatalogError>;

    /// Append `leaves` (derived from the audit entries after `expected.processed_seq`, in
    /// order) and move the processed seq to `processed_seq`, in one transaction, only if the
    /// log is still at `expected`; [`Conflict::LogMoved`] otherwise. Returns the new position.
    async fn append_leaves(
        &self,
        expected: &LogPosition,
        processed_seq: u64,
        leaves: &[NewLeaf],
    ) -> Result<LogPosition, CatalogError>;

    /// Up to `limit` (1 to [`MAX_LEAF_BATCH`]) leaves from index `from`, in order.
    async fn leaves(&self, from: u64, limit: u32) -> Result<Vec<Leaf>, CatalogError>;

    /// Every leaf about one recording, in order.
    async fn leaves_for_recording(&self, id: &RecordingId) -> Result<Vec<Leaf>, CatalogError>;
}
