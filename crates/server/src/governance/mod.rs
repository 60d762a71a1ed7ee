//! Governance commands: legal holds, erasure with signed receipts, retention, subject access
//! bundles, signed audit checkpoints and the content-blind transparency log.
//!
//! The rules live in the catalog (a held recording cannot be erased, checked inside the
//! erasing transaction); this module resolves what a command names, checks the node-level
//! rules (minimum retention), deletes objects from the region store after the catalog has
//! destroyed the sealed key, and signs receipts with the node key.

pub mod bundle;
pub mod checkpoint;
pub mod cli;
pub mod erase;
pub mod hold;
pub mod retention;
pub mod retention_cli;
pub mod subject_access;
pub mod transparency;
pub mod transparency_cli;
pub mod transparency_report;
pub mod vcon;

use anyhow::{Result, anyhow};
use model::RecordingId;

/// What an erase or hold command names.
#[derive(Debug, Clone)]
pub enum Target {
    Recording(RecordingId),
    /// A participant address (personal data: never logged or audited in the clear).
    Participant(model::Pii<String>),
}

impl Target {
    /// From the command line's `--recording` / `--participant` (exactly one).
    pub fn from_args(recording: Option<&str>, participant: Option<&str>) -> Result<Target> {
        match (recording, participant) {
            (Some(id), None) => Ok(Target::Recording(
                id.parse().map_err(|e| anyhow!("--recording: {e}"))?,
            )),
            (None, Some(address)) if !address.is_empty() => {
                Ok(Target::Participant(model::Pii::new(address.to_owned())))
            }
            _ => Err(anyhow!(
                "give exactly one of --recording ID or --participant ADDRESS"
            )),
        }
    }
}
