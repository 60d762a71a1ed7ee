use chrono::{DateTime, TimeZone, Utc};
use model::{ConsentEvidence, ConsentKind, ConsentPolicy, EvidenceSource, Pii};

use super::*;
use crate::reason::DiscardedEvidence;

fn at(seconds: u32) -> DateTime<Utc> {
    match Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, seconds).single() {
        Some(time) => time,
        None => panic!("test time out of range"),
    }
}

fn announcement(seconds: u32) -> ConsentEvidence {
    ConsentEvidence {
        kind: ConsentKind::Announcement,
        at: Some(at(seconds)),
        reference: "prompt-recording-notice-v2".to_owned(),
        source: EvidenceSource::ImportSidecar,
    }
}

fn customer() -> Participant {
    Participant::new(Pii::new("tel:+441632960001".to_owned()), "customer")
}

fn agent() -> Participant {
    Participant::new(
        Pii::new("sip:agent7@contact.example.com".to_owned()),
        "agent",
    )
}

fn rules(policy: ConsentPolicy, staff: &[&str]) -> ConsentRules {
    match StaffPatterns::compile(staff) {
        Ok(staff) => ConsentRules::new(policy, staff),
        Err(error) => panic!("staff patterns should compile: {error}"),
    }
}

fn call(participants: Vec<Participant>) -> Call {
    Call {
        participants,
        ended_at: Some(at(59)),
    }
}

fn recorded(decision: Decision) -> Vec<CoveredParticipant> {
    match decision {
        Decision::Record { participants } => participants,
        Decision::Refuse { reason } => panic!("expected Record, got refusal: {reason}"),
    }
}

fn refused(decision: Decision) -> RefusalReason {
    match decision {
        Decision::Refuse { reason } => reason,
        Decision::Record { participants } => panic!("expected Refuse, got Record {participants:?}"),
    }
}

fn notice() -> Attestation {
    match Attestation::new(ConsentKind::Announcement, "prompt-recording-notice-v2") {
        Ok(attestation) => attestation,
        Err(error) => panic!("attestation should be valid: {error}"),
    }
}

#[test]
fn call_without_participants_is_refused() {
    for policy in [ConsentPolicy::AllParty, ConsentPolicy::OneParty] {
        let reason = refused(rules(policy, &[]).decide(Some(&notice()), &call(vec![])));
        assert_eq!(reason, RefusalReason::NoParticipants);
        assert_eq!(reason.as_code(), "no-participants");
    }
}

#[test]
fn all_party_with_one_uncovered_participant_is_refused() {
    let participants = vec![customer().with_evidence(announcement(0)), agent()];
    let reason = refused(rules(ConsentPolicy::AllParty, &[]).decide(None, &call(participants)));
    assert_eq!(reason.as_code(), "participant-without-evidence");
    assert_eq!(
        reason.to_string(),
        "participant 2 (agent) has no usable consent evidence, and the all-party policy requires every participant to be covered"
    );
}

#[test]
fn all_party_with_every_participant_covered_records_their_evidence() {
    let participants = vec![
        customer().with_evidence(announcement(0)),
        agent().with_evidence(announcement(1)),
    ];
    let covered = recorded(rules(ConsentPolicy::AllParty, &[]).decide(None, &call(participants)));
    assert_eq!(
        covered,
        vec![
            CoveredParticipant {
                index: 0,
                evidence: vec![announcement(0)]
            },
            CoveredParticipant {
                index: 1,
                evidence: vec![announcement(1)]
            },
        ]
    );
}

#[test]
fn one_party_with_one_covered_participant_records() {
    let participants = vec![customer(), agent().with_evidence(announcement(0))];
    let covered = recorded(rules(ConsentPolicy::OneParty, &[]).decide(None, &call(participants)));
    assert_eq!(covered.len(), 1);
    assert_eq!(covered[0].index, 1);
}

#[test]
fn one_party_with_nobody_covered_is_refused() {
    let reason =
        refused(rules(ConsentPolicy::OneParty, &[]).decide(None, &call(vec![customer(), agent()])));
    assert_eq!(reason.as_code(), "no-participant-with-evidence");
    assert_eq!(
        reason.to_string(),
        "none of the 2 participants has usable consent evidence, and the one-party policy requires at least one to be covered"
    );
}

#[test]
fn staff_pattern_match_covers_with_synthesized_employment_evidence() {
    let rules = rules(ConsentPolicy::AllParty, &["sip:*@contact.example.com"]);
    let participants = vec![customer().with_evidence(announcement(0)), agent()];
    let covered = recorded(rules.decide(None, &call(participants)));
    assert_eq!(
        covered[1].evidence,
        vec![ConsentEvidence {
            kind: ConsentKind::Employment,
            at: None,
            reference: "staff pattern sip:*@contact.example.com".to_owned(),
            source: EvidenceSource::StaffPolicy,
        }]
    );
}

#[test]
fn staff_pattern_matches_host_case_insensitively() {
    let rules = rules(ConsentPolicy::AllParty, &["sip:*@contact.example.com"]);
    let shouting = Participant::new(
        Pii::new("SIP:agent7@Contact.EXAMPLE.com".to_owned()),
        "agent",
    );
    let covered = recorded(rules.decide(None, &call(vec![shouting])));
    assert_eq!(covered[0].evidence[0].source, EvidenceSource::StaffPolicy);
}

#[test]
fn staff_pattern_does_not_cover_a_customer() {
    let rules = rules(ConsentPolicy::AllParty, &["sip:*@contact.example.com"]);
    let reason = refused(rules.decide(None, &call(vec![customer(), agent()])));
    assert!(matches!(
        reason,
        RefusalReason::ParticipantWithoutEvidence { ordinal: 1, .. }
    ));
}

#[test]
fn client_attestation_covers_every_participant() {
    let participants = vec![customer(), agent()];
    let covered =
        recorded(rules(ConsentPolicy::AllParty, &[]).decide(Some(&notice()), &call(participants)));
    assert_eq!(covered.len(), 2);
    for participant in covered {
        assert_eq!(
            participant.evidence,
            vec![ConsentEvidence {
                kind: ConsentKind::Announcement,
                at: None,
                reference: "prompt-recording-notice-v2".to_owned(),
                source: EvidenceSource::ClientAttestation,
            }]
        );
    }
}

#[test]
fn covered_participant_lists_call_evidence_then_attestation_then_staff() {
    let rules = rules(ConsentPolicy::AllParty, &["sip:*@contact.example.com"]);
    let participants = vec![agent().with_evidence(announcement(3))];
    let covered = recorded(rules.decide(Some(&notice()), &call(participants)));
    let sources: Vec<_> = covered[0].evidence.iter().map(|item| item.source).collect();
    assert_eq!(
        sources,
        [
            EvidenceSource::ImportSidecar,
            EvidenceSource::ClientAttestation,
            EvidenceSource::StaffPolicy
        ]
    );
}

#[test]
fn evidence_after_the_call_end_does_not_count_and_is_explained() {
    let late = ConsentEvidence {
        at: Some(at(59) + chrono::Duration::seconds(1)),
        ..announcement(0)
    };
    let participants = vec![customer().with_evidence(late)];
    let reason = refused(rules(ConsentPolicy::AllParty, &[]).decide(None, &call(participants)));
    assert_eq!(
        reason,
        RefusalReason::ParticipantWithoutEvidence {
            ordinal: 1,
            role: "customer".to_owned(),
            policy: ConsentPolicy::AllParty,
            discarded: DiscardedEvidence {
                after_call_end: 1,
                empty_reference: 0
            },
        }
    );
    assert!(
        reason
            .to_string()
            .contains("1 timestamped after the call ended")
    );
}

#[test]
fn evidence_exactly_at_the_call_end_counts() {
    let participants = vec![customer().with_evidence(announcement(59))];
    assert!(
        rules(ConsentPolicy::AllParty, &[])
            .decide(None, &call(participants))
            .is_record()
    );
}

#[test]
fn evidence_time_is_not_checked_when_the_end_is_unknown() {
    let participants = vec![customer().with_evidence(announcement(59))];
    let open = Call {
        participants,
        ended_at: None,
    };
    assert!(
        rules(ConsentPolicy::AllParty, &[])
            .decide(None, &open)
            .is_record()
    );
}

#[test]
fn evidence_with_empty_reference_does_not_count_and_is_explained() {
    let blank = ConsentEvidence {
        reference: "  ".to_owned(),
        ..announcement(0)
    };
    let participants = vec![customer().with_evidence(blank), agent()];
    let reason = refused(rules(ConsentPolicy::OneParty, &[]).decide(None, &call(participants)));
    assert_eq!(
        reason.to_string(),
        "none of the 2 participants has usable consent evidence, and the one-party policy requires at least one to be covered; 1 evidence item was discarded (1 with an empty reference)"
    );
}

#[test]
fn discarded_item_is_dropped_while_valid_item_still_covers() {
    let blank = ConsentEvidence {
        reference: String::new(),
        ..announcement(0)
    };
    let participants = vec![
        customer()
            .with_evidence(blank)
            .with_evidence(announcement(1)),
    ];
    let covered = recorded(rules(ConsentPolicy::AllParty, &[]).decide(None, &call(participants)));
    assert_eq!(covered[0].evidence, vec![announcement(1)]);
}

#[test]
fn opted_out_participant_is_not_covered_even_with_evidence_attestation_and_staff_match() {
    let rules = rules(ConsentPolicy::AllParty, &["sip:*@contact.example.com"]);
    let participants = vec![
        customer().with_evidence(announcement(0)),
        agent().with_evidence(announcement(0)).with_opt_out(),
    ];
    let reason = refused(rules.decide(Some(&notice()), &call(participants)));
    assert_eq!(
        reason,
        RefusalReason::ParticipantOptedOut {
            ordinal: 2,
            role: "agent".to_owned()
        }
    );
    assert_eq!(reason.as_code(), "participant-opted-out");
}

#[test]
fn one_party_records_the_covered_participant_beside_one_who_opted_out() {
    let participants = vec![
        customer().with_opt_out(),
        agent().with_evidence(announcement(0)),
    ];
    let covered = recorded(rules(ConsentPolicy::OneParty, &[]).decide(None, &call(participants)));
    assert_eq!(covered.len(), 1);
    assert_eq!(covered[0].index, 1);
}

#[test]
fn one_party_where_everyone_opted_out_is_refused_and_says_so() {
    let participants = vec![customer().with_opt_out()];
    let reason =
        refused(rules(ConsentPolicy::OneParty, &[]).decide(Some(&notice()), &call(participants)));
    assert!(reason.to_string().ends_with("; 1 asked not to be recorded"));
}

#[test]
fn refusal_reason_never_contains_the_address() {
    let participants = vec![Participant::new(
        Pii::new("tel:+441632960001".to_owned()),
        "tel:+441632960001",
    )];
    let reason = refused(rules(ConsentPolicy::AllParty, &[]).decide(None, &call(participants)));
    assert!(!reason.to_string().contains("1632960001"), "{reason}");
    assert!(!format!("{reason:?}").contains("1632960001"), "{reason:?}");
}

#[test]
fn attestation_needs_a_reference() {
    assert_eq!(
        Attestation::new(ConsentKind::Announcement, " "),
        Err(AttestationError::EmptyReference)
    );
    assert!(matches!(
        Attestation::new(ConsentKind::Announcement, "x".repeat(2_000)),
        Err(AttestationError::ReferenceTooLong { length: 2_000 })
    ));
}
