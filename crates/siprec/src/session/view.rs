//! From an answered offer and the metadata view to the stream plan and the participants:
//! label ↔ stream ↔ participant resolution (RFC 7866 §7.1.1, once per offer), consent
//! coverage per participant, and whether each stream is recorded or paused.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};
use consent::{Call, Decision, RefusalReason};
use model::{ConsentPolicy, Pii, StreamLabel};
use sdp::{Answer, RtpMap, SessionDescription, StreamOutcome};

use super::ClientPolicy;
use super::events::{PauseReason, SessionParticipant, StreamActivity, StreamPlan};
use crate::{ConsentClaim, LabelResolution, ParticipantId, RecordingMetadata, resolve_labels};

/// The id given to the one participant assumed when the metadata names none (a plain SDP
/// INVITE, or metadata holding only `<datamode>`). Only a client attestation can cover it.
pub const UNIDENTIFIED_PARTICIPANT: &str = "unidentified";

/// What the answer decided for one offered `m=` line that was not rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MediaLine {
    pub label: StreamLabel,
    /// The offer's own `a=label`, used to resolve the metadata.
    pub sdp_label: Option<String>,
    pub local_port: u16,
    pub local_rtcp_port: u16,
    pub remote: Option<SocketAddr>,
    pub codecs: Vec<RtpMap>,
    pub telephone_event: Option<u8>,
    /// `a=inactive` or `a=recvonly` in the offer (RFC 7866 §7.1.1.1).
    pub paused_by_offer: bool,
    /// `a=recordpref:off` on this line.
    pub opted_out: bool,
}

fn static_codec(payload_type: u8) -> Option<RtpMap> {
    // RFC 3551 §6, Table 4.
    let (name, clock_rate) = match payload_type {
        0 => ("PCMU", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        _ => return None,
    };
    Some(RtpMap {
        payload_type,
        encoding_name: name.to_owned(),
        clock_rate,
        encoding_parameters: None,
    })
}

/// The media lines of an answer, by offer position (`None` where the line was rejected).
pub(super) fn media_lines(offer: &SessionDescription, answer: &Answer) -> Vec<Option<MediaLine>> {
    let mut lines: Vec<Option<MediaLine>> = Vec::with_capacity(answer.streams.len());
    for stream in &answer.streams {
        let Some(offered) = offer.media.get(stream.index) else {
            lines.push(None);
            continue;
        };
        let (port, payload_types, paused_by_offer) = match &stream.outcome {
            StreamOutcome::Recording {
                port,
                payload_types,
            } => (*port, payload_types, false),
            StreamOutcome::Inactive { payload_types, .. } => {
                let port = answer
                    .description
                    .media
                    .get(stream.index)
                    .map_or(0, |section| section.port);
                (port, payload_types, true)
            }
            StreamOutcome::Rejected { .. } => {
                lines.push(None);
                continue;
            }
        };
        let taken = |candidate: &StreamLabel| {
            lines
                .iter()
                .flatten()
                .any(|line: &MediaLine| line.label == *candidate)
        };
        let label = offered
            .label()
            .and_then(|label| StreamLabel::new(label).ok())
            .filter(|label| !taken(label))
            .or_else(|| StreamLabel::new(format!("m{}", stream.index)).ok());
        let Some(label) = label else {
            lines.push(None);
            continue;
        };
        let codecs: Vec<RtpMap> = payload_types
            .iter()
            .filter_map(|payload_type| {
                offered
                    .rtpmap(*payload_type)
                    .cloned()
                    .or_else(|| static_codec(*payload_type))
            })
            .collect();
        let telephone_event = codecs
            .iter()
            .find(|codec| codec.encoding_name.eq_ignore_ascii_case("telephone-event"))
            .map(|codec| codec.payload_type);
        let connection = offered.connection.as_ref().or(offer.connection.as_ref());
        let remote = connection
            .and_then(|connection| connection.address.split('/').next())
            .and_then(|address| address.trim().parse::<IpAddr>().ok())
            .map(|address| SocketAddr::new(address, offered.port));
        // RFC 7866 §8.1.1: RTCP is REQUIRED; on the next port unless rtcp-mux (RFC 5761).
        let local_rtcp_port = if offered.has_rtcp_mux() {
            port
        } else {
            port.saturating_add(1)
        };
        lines.push(Some(MediaLine {
            label,
            sdp_label: offered.label().map(str::to_owned),
            local_port: port,
            local_rtcp_port,
            remote,
            codecs,
            telephone_event,
            paused_by_offer,
            opted_out: offered.record_preference() == Some(sdp::RecordPreference::Off),
        }));
    }
    lines
}

/// The participants and stream plans of one moment of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SessionView {
    pub participants: Vec<SessionParticipant>,
    /// By offer position; `None` where the line was rejected.
    pub plans: Vec<Option<StreamPlan>>,
}

impl SessionView {
    pub fn streams(&self) -> Vec<StreamPlan> {
        self.plans.iter().flatten().cloned().collect()
    }
}

fn is_present(metadata: &RecordingMetadata, participant: &ParticipantId) -> bool {
    let mut associations = metadata
        .participant_session_associations
        .iter()
        .filter(|association| association.participant == *participant)
        .peekable();
    if associations.peek().is_none() {
        return true;
    }
    associations.any(|association| association.disassociate_time.is_none())
}

fn role_of(metadata: &RecordingMetadata, participant: &ParticipantId) -> String {
    metadata
        .participant_session_associations
        .iter()
        .filter(|association| association.participant == *participant)
        .flat_map(|association| association.parameters.iter())
        .find(|parameter| parameter.name.eq_ignore_ascii_case("role"))
        .map(|parameter| parameter.value.clone())
        .unwrap_or_default()
}

/// Consent facts of one participant as the `consent` crate reads them.
fn consent_participant(participant: &SessionParticipant) -> consent::Participant {
    consent::Participant {
        address: participant.address.clone(),
        role: participant.role.clone(),
        evidence: participant.evidence.clone(),
        opted_out: participant.opted_out,
    }
}

/// The evidence covering one participant on its own, under the client's rules.
fn coverage(
    policy: &ClientPolicy,
    participant: &SessionParticipant,
    wall: DateTime<Utc>,
) -> Vec<model::ConsentEvidence> {
    let call = Call {
        participants: vec![consent_participant(participant)],
        ended_at: Some(wall),
    };
    match policy.rules.decide(policy.attestation.as_ref(), &call) {
        Decision::Record { participants } => participants
            .into_iter()
            .next()
            .map(|covered| covered.evidence)
            .unwrap_or_default(),
        Decision::Refuse { .. } => Vec::new(),
    }
}

/// RFC 7866 §6.1.2 and DESIGN.md "Consent evidence": may the call be recorded at all? Looks
/// at the participants still in the call.
pub(super) fn gate(
    policy: &ClientPolicy,
    view: &SessionView,
    metadata: Option<&RecordingMetadata>,
    wall: DateTime<Utc>,
) -> Result<(), RefusalReason> {
    let mut considered: Vec<&SessionParticipant> =
        view.participants.iter().filter(|p| p.present).collect();
    if considered.is_empty() {
        considered = view.participants.iter().collect();
    }
    let call = Call {
        participants: considered
            .iter()
            .map(|participant| {
                // The evidence as the call supplied it (so that a refusal can say what was
                // discarded); the decision adds the attestation and the staff patterns.
                let mut facts = consent_participant(participant);
                facts.evidence = metadata
                    .and_then(|metadata| metadata.participant(&participant.id))
                    .map(supplied_evidence)
                    .unwrap_or_default();
                facts
            })
            .collect(),
        ended_at: Some(wall),
    };
    match policy.rules.decide(policy.attestation.as_ref(), &call) {
        Decision::Record { .. } => Ok(()),
        Decision::Refuse { reason } => Err(reason),
    }
}

fn supplied_evidence(participant: &crate::Participant) -> Vec<model::ConsentEvidence> {
    participant
        .consent
        .iter()
        .filter_map(|claim| match claim {
            ConsentClaim::Valid { evidence } => Some(evidence.clone()),
            ConsentClaim::Invalid { .. } => None,
        })
        .collect()
}

/// Builds the view of a session from its media lines and metadata.
pub(super) fn evaluate(
    policy: &ClientPolicy,
    metadata: Option<&RecordingMetadata>,
    lines: &[Option<MediaLine>],
    had_senders: &[bool],
    session_opted_out: bool,
    wall: DateTime<Utc>,
) -> SessionView {
    let labels: Vec<&str> = lines
        .iter()
        .map(|line| match line {
            Some(line) => line.sdp_label.as_deref().unwrap_or(line.label.as_str()),
            None => "",
        })
        .collect();
    let resolutions: Vec<LabelResolution> = match metadata {
        Some(metadata) => resolve_labels(metadata, labels.iter().copied()),
        None => labels
            .iter()
            .map(|label| LabelResolution {
                label: (*label).to_owned(),
                stream: None,
                senders: Vec::new(),
                receivers: Vec::new(),
            })
            .collect(),
    };
    let sends_on = |id: &ParticipantId| -> Vec<usize> {
        resolutions
            .iter()
            .enumerate()
            .filter(|(index, resolution)| {
                lines.get(*index).is_some_and(Option::is_some) && resolution.senders.contains(id)
            })
            .map(|(index, _)| index)
            .collect()
    };
    let label_of = |index: &usize| {
        lines
            .get(*index)
            .and_then(|line| line.as_ref())
            .map(|line| line.label.clone())
    };
    let named = metadata.map_or(&[][..], |metadata| metadata.participants.as_slice());
    let mut participants: Vec<SessionParticipant> = Vec::with_capacity(named.len().max(1));
    for participant in named {
        let indexes = sends_on(&participant.id);
        let name_id = participant.names.first();
        let mut entry = SessionParticipant {
            id: participant.id.clone(),
            address: name_id.map(|name| name.aor.clone()).unwrap_or_default(),
            name: name_id.and_then(|name| name.name.clone()),
            role: metadata
                .map(|metadata| role_of(metadata, &participant.id))
                .unwrap_or_default(),
            evidence: supplied_evidence(participant),
            opted_out: session_opted_out
                || indexes.iter().any(|index| {
                    lines
                        .get(*index)
                        .and_then(|line| line.as_ref())
                        .is_some_and(|line| line.opted_out)
                }),
            present: metadata.is_none_or(|metadata| is_present(metadata, &participant.id)),
            sends_on: indexes.iter().filter_map(label_of).collect(),
        };
        entry.evidence = coverage(policy, &entry, wall);
        participants.push(entry);
    }
    let unidentified = participants.is_empty();
    if unidentified {
        let mut entry = SessionParticipant {
            id: ParticipantId::new(UNIDENTIFIED_PARTICIPANT),
            address: Pii::new(String::new()),
            name: None,
            role: String::new(),
            evidence: Vec::new(),
            opted_out: session_opted_out || lines.iter().flatten().any(|line| line.opted_out),
            present: true,
            sends_on: lines
                .iter()
                .flatten()
                .map(|line| line.label.clone())
                .collect(),
        };
        entry.evidence = coverage(policy, &entry, wall);
        participants.push(entry);
    }

    let uncovered_present = participants
        .iter()
        .any(|participant| participant.present && !participant.is_covered());
    let anyone_covered = participants
        .iter()
        .any(|participant| participant.present && participant.is_covered());
    let covered = |id: &ParticipantId| {
        participants
            .iter()
            .find(|participant| participant.id == *id)
            .is_some_and(SessionParticipant::is_covered)
    };
    let plans = lines
        .iter()
        .zip(&resolutions)
        .enumerate()
        .map(|(index, (line, resolution))| {
            let line = line.as_ref()?;
            let senders = if unidentified {
                Vec::new()
            } else {
                resolution.senders.clone()
            };
            let no_consent = match policy.rules.policy {
                // All-party: every sender covered; a stream whose senders are unknown may carry
                // anyone, so an uncovered participant anywhere pauses it.
                ConsentPolicy::AllParty => {
                    senders.iter().any(|sender| !covered(sender))
                        || (senders.is_empty() && uncovered_present)
                }
                ConsentPolicy::OneParty => !anyone_covered,
            };
            let had = had_senders.get(index).copied().unwrap_or(false);
            let activity = if no_consent {
                StreamActivity::Paused(PauseReason::NoConsent)
            } else if line.paused_by_offer {
                StreamActivity::Paused(PauseReason::Pause)
            } else if had && senders.is_empty() {
                StreamActivity::Paused(PauseReason::Hold)
            } else {
                StreamActivity::Recording
            };
            Some(StreamPlan {
                label: line.label.clone(),
                index,
                local_port: line.local_port,
                local_rtcp_port: line.local_rtcp_port,
                remote: line.remote,
                codecs: line.codecs.clone(),
                telephone_event: line.telephone_event,
                activity,
                stream: resolution.stream.clone(),
                senders,
            })
        })
        .collect();
    SessionView {
        participants,
        plans,
    }
}
