//! The in-memory twin's checkpoint mirror and transparency log.

use async_trait::async_trait;
use model::RecordingId;

use super::MemoryCatalog;
use crate::error::CatalogError;
use crate::transparency::{
    CheckpointRecord, Leaf, LogPosition, NewLeaf, TransparencyStore, check_append, check_leaf_limit,
};

#[derive(Debug, Default)]
pub(crate) struct LogState {
    checkpoints: Vec<CheckpointRecord>,
    leaves: Vec<Leaf>,
    processed_seq: u64,
}

impl LogState {
    fn position(&self) -> LogPosition {
        LogPosition {
            processed_seq: self.processed_seq,
            size: self.leaves.len() as u64,
        }
    }
}

#[async_trait]
impl TransparencyStore for MemoryCatalog {
    async fn mirror_checkpoint(&self, checkpoint: &CheckpointRecord) -> Result<(), CatalogError> {
        let checkpoint = checkpoint.checked();
        let mut state = self.lock();
        let log = &mut state.transparency;
        if !log
            .checkpoints
            .iter()
            .any(|stored| stored.seq == checkpoint.seq && stored.at == checkpoint.at)
        {
            log.checkpoints.push(checkpoint);
            log.checkpoints
                .sort_by_key(|stored| (stored.seq, stored.at));
        }
        Ok(())
    }

    async fn mirrored_checkpoints(&self) -> Result<Vec<CheckpointRecord>, CatalogError> {
        Ok(self.lock().transparency.checkpoints.clone())
    }

    async fn log_position(&self) -> Result<LogPosition, CatalogError> {
        Ok(self.lock().transparency.position())
    }

    async fn append_leaves(
        &self,
        expected: &LogPosition,
        processed_seq: u64,
        leaves: &[NewLeaf],
    ) -> Result<LogPosition, CatalogError> {
        let mut state = self.lock();
        let log = &mut state.transparency;
        check_append(&log.position(), expected, processed_seq, leaves)?;
        for leaf in leaves {
            let index = log.leaves.len() as u64;
            log.leaves.push(Leaf {
                index,
                audit_seq: leaf.audit_seq,
                recording: leaf.recording,
                tenant: leaf.tenant.clone(),
                event: leaf.event.clone(),
                manifest: leaf.manifest.clone(),
            });
        }
        log.processed_seq = processed_seq;
        Ok(log.position())
    }

    async fn leaves(&self, from: u64, limit: u32) -> Result<Vec<Leaf>, CatalogError> {
        check_leaf_limit(limit)?;
        let state = self.lock();
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        Ok(state
            .transparency
            .leaves
            .iter()
            .skip(start)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn leaves_for_recording(&self, id: &RecordingId) -> Result<Vec<Leaf>, CatalogError> {
        Ok(self
            .lock()
            .transparency
            .leaves
            .iter()
            .filter(|leaf| leaf.recording == *id)
            .cloned()
            .collect())
    }
}
