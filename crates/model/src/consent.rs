use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many of a call's participants must be covered by consent evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsentPolicy {
    /// Every participant must be covered (e.g. California, most of the EU in practice).
    #[serde(rename = "all-party")]
    AllParty,
    /// At least one participant must be covered.
    #[serde(rename = "one-party")]
    OneParty,
}

impl ConsentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPolicy::AllParty => "all-party",
            ConsentPolicy::OneParty => "one-party",
        }
    }
}

impl fmt::Display for ConsentPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsentPolicy {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "all-party" => Ok(ConsentPolicy::AllParty),
            "one-party" => Ok(ConsentPolicy::OneParty),
            other => Err(format!(
                "consent policy must be \"all-party\" or \"one-party\", got {other:?}"
            )),
        }
    }
}

/// What kind of act gave the participant notice of, or agreement to, the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentKind {
    /// A recording notice was played to the participant.
    Announcement,
    /// The participant said yes.
    Verbal,
    /// The participant pressed a key to agree.
    Dtmf,
    /// A signed agreement or contract.
    Written,
    /// The participant is staff covered by their employment agreement.
    Employment,
}

impl ConsentKind {
    pub const ALL: [ConsentKind; 5] = [
        ConsentKind::Announcement,
        ConsentKind::Verbal,
        ConsentKind::Dtmf,
        ConsentKind::Written,
        ConsentKind::Employment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Announcement => "announcement",
            ConsentKind::Verbal => "verbal",
            ConsentKind::Dtmf => "dtmf",
            ConsentKind::Written => "written",
            ConsentKind::Employment => "employment",
        }
    }
}

impl fmt::Display for ConsentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsentKind {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        ConsentKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| {
                format!(
                    "consent kind must be one of announcement, verbal, dtmf, written, employment; got {value:?}"
                )
            })
    }
}

/// Where a piece of evidence came from. Stored with the evidence, so an auditor can tell a
/// tenant's blanket attestation from a per-call record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceSource {
    /// The import sidecar's `consent` list.
    ImportSidecar,
    /// The tenant's `staff` address patterns (employment agreement).
    StaffPolicy,
    /// The recording client's configured attestation (e.g. it plays a notice to every party).
    ClientAttestation,
    /// Per-call evidence in the RFC 7865 metadata extension (`urn:onrecord:params:xml:ns:consent:1`).
    CallMetadata,
    /// `a=record:on` from a recording-aware user agent (RFC 7866 §6.1).
    RecordingAwareAgent,
}

impl EvidenceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceSource::ImportSidecar => "import-sidecar",
            EvidenceSource::StaffPolicy => "staff-policy",
            EvidenceSource::ClientAttestation => "client-attestation",
            EvidenceSource::CallMetadata => "call-metadata",
            EvidenceSource::RecordingAwareAgent => "recording-aware-agent",
        }
    }

    pub fn parse(value: &str) -> Option<EvidenceSource> {
        [
            EvidenceSource::ImportSidecar,
            EvidenceSource::StaffPolicy,
            EvidenceSource::ClientAttestation,
            EvidenceSource::CallMetadata,
            EvidenceSource::RecordingAwareAgent,
        ]
        .into_iter()
        .find(|source| source.as_str() == value)
    }
}

/// One piece of consent evidence for one participant, stored with the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvidence {
    pub kind: ConsentKind,
    /// When the notice was played or the agreement given; `None` for standing agreements
    /// whose time is not known (an employment contract).
    pub at: Option<DateTime<Utc>>,
    /// What it refers to: a prompt id, an IVR step, a document reference, a staff pattern.
    pub reference: String,
    pub source: EvidenceSource,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_policies_round_trip_through_text() {
        for kind in ConsentKind::ALL {
            assert_eq!(kind.as_str().parse::<ConsentKind>(), Ok(kind));
        }
        assert!("implied".parse::<ConsentKind>().is_err());
        assert_eq!("one-party".parse(), Ok(ConsentPolicy::OneParty));
        assert!("two-party".parse::<ConsentPolicy>().is_err());
    }
}
