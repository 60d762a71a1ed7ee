//! Identifiers and shared vocabulary of onrecord.
//!
//! Owns: the id newtypes (`TenantId`, `RegionId`, `RecordingId`, `StreamLabel`), the
//! personal-data wrapper [`Pii`], the consent-evidence vocabulary shared by the SIPREC
//! path, the import path and the catalog, and the one [`clock`] through which time enters.
//! Never does: I/O, parsing of wire formats, policy decisions.

pub mod clock;
mod consent;
mod ids;
mod pii;

pub use consent::{ConsentEvidence, ConsentKind, ConsentPolicy, EvidenceSource};
pub use ids::{IdError, RecordingId, RegionId, StreamLabel, TenantId};
pub use pii::Pii;

/// Which way the recorded call went, seen from the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
    Unknown,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
            Direction::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            "internal" => Some(Direction::Internal),
            "unknown" => Some(Direction::Unknown),
            _ => None,
        }
    }
}
