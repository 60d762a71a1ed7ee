//! The decision itself: which participants are covered, and whether the policy is met.

use chrono::{DateTime, Utc};
use model::{ConsentEvidence, ConsentKind, ConsentPolicy, EvidenceSource, Pii};

use crate::reason::{DiscardedEvidence, RefusalReason, safe_role};
use crate::staff::StaffPatterns;

/// The longest attestation reference accepted, in bytes.
const MAX_ATTESTATION_REFERENCE_BYTES: usize = 1_024;

/// Why a recording client's attestation was refused at configuration time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error(
        "a recording-client attestation needs a non-empty reference (the prompt or contract it relies on)"
    )]
    EmptyReference,
    #[error(
        "a recording-client attestation reference is {length} bytes long; the limit is {MAX_ATTESTATION_REFERENCE_BYTES}"
    )]
    ReferenceTooLong { length: usize },
}

/// A recording client's standing attestation, from the tenant's configuration: "this SRC plays
/// a recording notice to every party before connecting" (RFC 7866 §6.1.2 names "playing a tone
/// in-band or having a signed participant contract in place"). It covers every participant of
/// every call from that client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    kind: ConsentKind,
    reference: String,
}

impl Attestation {
    pub fn new(
        kind: ConsentKind,
        reference: impl Into<String>,
    ) -> Result<Attestation, AttestationError> {
        let reference = reference.into();
        if reference.trim().is_empty() {
            return Err(AttestationError::EmptyReference);
        }
        if reference.len() > MAX_ATTESTATION_REFERENCE_BYTES {
            return Err(AttestationError::ReferenceTooLong {
                length: reference.len(),
            });
        }
        Ok(Attestation { kind, reference })
    }

    pub fn kind(&self) -> ConsentKind {
        self.kind
    }

    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The evidence stored with each participant it covers: source `ClientAttestation`, no
    /// time (a standing arrangement).
    pub fn evidence(&self) -> ConsentEvidence {
        ConsentEvidence {
            kind: self.kind,
            at: None,
            reference: self.reference.clone(),
            source: EvidenceSource::ClientAttestation,
        }
    }
}

/// One participant of a call, as the SIPREC metadata or the import sidecar describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub address: Pii<String>,
    /// Free text (`customer`, `agent`…); only a log-safe reduction of it reaches a reason.
    pub role: String,
    /// Evidence supplied with the call (sidecar `consent` list, metadata extension, …).
    pub evidence: Vec<ConsentEvidence>,
    /// The participant asked not to be recorded (`a=recordpref:off`): never covered, whatever
    /// else applies.
    pub opted_out: bool,
}

impl Participant {
    pub fn new(address: Pii<String>, role: impl Into<String>) -> Participant {
        Participant {
            address,
            role: role.into(),
            evidence: Vec::new(),
            opted_out: false,
        }
    }

    pub fn with_evidence(mut self, evidence: ConsentEvidence) -> Participant {
        self.evidence.push(evidence);
        self
    }

    pub fn with_opt_out(mut self) -> Participant {
        self.opted_out = true;
        self
    }
}

/// What the decision looks at for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub participants: Vec<Participant>,
    /// When the call ended, if known: for an import, its start plus the audio duration; for a
    /// live call, the time of the decision (evidence cannot come from the future). Evidence
    /// timestamped after it does not count. `None` skips the check.
    pub ended_at: Option<DateTime<Utc>>,
}

/// A participant who is covered, with every piece of evidence that applies, in this order:
/// the call's own evidence (as supplied), the client attestation, the staff pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveredParticipant {
    /// 0-based position in [`Call::participants`].
    pub index: usize,
    pub evidence: Vec<ConsentEvidence>,
}

/// Record, listing the covered participants (for one-party calls, uncovered participants are
/// simply absent from the list), or refuse with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Record {
        participants: Vec<CoveredParticipant>,
    },
    Refuse {
        reason: RefusalReason,
    },
}

impl Decision {
    pub fn is_record(&self) -> bool {
        matches!(self, Decision::Record { .. })
    }
}

/// A tenant's consent configuration, compiled once and used for every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRules {
    pub policy: ConsentPolicy,
    pub staff: StaffPatterns,
}

impl ConsentRules {
    pub fn new(policy: ConsentPolicy, staff: StaffPatterns) -> ConsentRules {
        ConsentRules { policy, staff }
    }

    /// Decides whether `call` may be recorded. `attestation` is the attestation of the
    /// recording client the call came from, if its configuration has one.
    pub fn decide(&self, attestation: Option<&Attestation>, call: &Call) -> Decision {
        if call.participants.is_empty() {
            return Decision::Refuse {
                reason: RefusalReason::NoParticipants,
            };
        }
        let mut covered = Vec::with_capacity(call.participants.len());
        let mut opted_out = 0;
        let mut discarded_everywhere = DiscardedEvidence::default();
        for (index, participant) in call.participants.iter().enumerate() {
            let coverage = self.coverage(attestation, call.ended_at, participant);
            discarded_everywhere.add(coverage.discarded);
            if participant.opted_out {
                opted_out += 1;
            }
            match coverage.evidence {
                Some(evidence) => covered.push(CoveredParticipant { index, evidence }),
                None if self.policy == ConsentPolicy::AllParty => {
                    return Decision::Refuse {
                        reason: uncovered_reason(
                            self.policy,
                            index,
                            participant,
                            coverage.discarded,
                        ),
                    };
                }
                None => {}
            }
        }
        if covered.is_empty() {
            return Decision::Refuse {
                reason: RefusalReason::NoParticipantWithEvidence {
                    participants: call.participants.len(),
                    opted_out,
                    policy: self.policy,
                    discarded: discarded_everywhere,
                },
            };
        }
        Decision::Record {
            participants: covered,
        }
    }

    fn coverage(
        &self,
        attestation: Option<&Attestation>,
        ended_at: Option<DateTime<Utc>>,
        participant: &Participant,
    ) -> Coverage {
        let mut discarded = DiscardedEvidence::default();
        let mut evidence = Vec::with_capacity(participant.evidence.len() + 2);
        for item in &participant.evidence {
            if item.reference.trim().is_empty() {
                discarded.empty_reference += 1;
                continue;
            }
            if let (Some(at), Some(end)) = (item.at, ended_at)
                && at > end
            {
                discarded.after_call_end += 1;
                continue;
            }
            evidence.push(item.clone());
        }
        if participant.opted_out {
            return Coverage {
                evidence: None,
                discarded,
            };
        }
        if let Some(attestation) = attestation {
            evidence.push(attestation.evidence());
        }
        if let Some(pattern) = self.staff.matching(participant.address.dangerous_reveal()) {
            evidence.push(ConsentEvidence {
                kind: ConsentKind::Employment,
                at: None,
                reference: format!("staff pattern {pattern}"),
                source: EvidenceSource::StaffPolicy,
            });
        }
        Coverage {
            evidence: (!evidence.is_empty()).then_some(evidence),
            discarded,
        }
    }
}

struct Coverage {
    /// `None` when the participant is not covered.
    evidence: Option<Vec<ConsentEvidence>>,
    discarded: DiscardedEvidence,
}

fn uncovered_reason(
    policy: ConsentPolicy,
    index: usize,
    participant: &Participant,
    discarded: DiscardedEvidence,
) -> RefusalReason {
    let ordinal = index + 1;
    let role = safe_role(&participant.role);
    if participant.opted_out {
        return RefusalReason::ParticipantOptedOut { ordinal, role };
    }
    RefusalReason::ParticipantWithoutEvidence {
        ordinal,
        role,
        policy,
        discarded,
    }
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
