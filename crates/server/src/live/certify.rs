//! What a live session remembers for its completeness certificate, noted as signalling
//! events arrive (never per packet), and turned into [`LiveFacts`] when it ends.

use std::collections::{BTreeMap, BTreeSet};

use media::GapReason;
use model::StreamLabel;
use siprec::session::{EndReason, SessionParticipant, StreamPlan};
use siprec::{ParticipantId, RecordingMetadata};

use super::finalize::LiveSession;
use super::media::FinishedStream;
use crate::completeness::{Expectation, GapKind, LiveFacts, ParticipantFacts, StreamFacts};

/// The completeness notes of a session.
#[derive(Debug, Default)]
pub(super) struct CompletenessNotes {
    /// Stream labels announced by the SDP plan or the metadata.
    expected: BTreeMap<String, BTreeSet<Expectation>>,
    /// Participants ever associated with each stream as senders.
    senders: BTreeMap<StreamLabel, BTreeSet<ParticipantId>>,
    /// Who caused each signalled gap.
    causes: BTreeMap<(String, GapKind), BTreeSet<ParticipantId>>,
    /// Answered streams that could not be recorded, with why.
    not_recorded: Vec<(String, String)>,
}

impl CompletenessNotes {
    /// An answered stream (RFC 7866 §7.1.1) and who the metadata says sends on it.
    pub(super) fn plan(&mut self, plan: &StreamPlan) {
        self.expected
            .entry(plan.label.to_string())
            .or_default()
            .insert(Expectation::Sdp);
        self.senders
            .entry(plan.label.clone())
            .or_default()
            .extend(plan.senders.iter().cloned());
    }

    /// The labelled `<stream>`s of a metadata version (RFC 7865 §6.7).
    pub(super) fn metadata(&mut self, metadata: &RecordingMetadata) {
        for stream in &metadata.streams {
            if let Some(label) = &stream.label {
                self.expected
                    .entry(label.clone())
                    .or_default()
                    .insert(Expectation::Metadata);
            }
        }
    }

    /// Who sends on which stream, per the latest participant view.
    pub(super) fn participants(&mut self, participants: &[SessionParticipant]) {
        for participant in participants {
            for label in &participant.sends_on {
                self.senders
                    .entry(label.clone())
                    .or_default()
                    .insert(participant.id.clone());
            }
        }
    }

    pub(super) fn not_recorded(&mut self, label: &StreamLabel, why: String) {
        if !self
            .not_recorded
            .iter()
            .any(|(known, _)| known == label.as_str())
        {
            self.not_recorded.push((label.to_string(), why));
        }
    }

    /// A signalled gap began on `label`: note who caused it. A pause is the recording
    /// client's; a hold concerns whoever sent on the stream; a consent gap, the senders
    /// without evidence or with `a=recordpref:off`.
    pub(super) fn gap(
        &mut self,
        label: &StreamLabel,
        reason: GapReason,
        participants: &[SessionParticipant],
    ) {
        let Some(kind) = GapKind::of(reason) else {
            return;
        };
        let senders = self.senders.get(label).cloned().unwrap_or_default();
        let who: BTreeSet<ParticipantId> = match kind {
            GapKind::Pause => BTreeSet::new(),
            GapKind::Hold => senders,
            GapKind::NoConsent => participants
                .iter()
                .filter(|p| p.sends_on.contains(label) || senders.contains(&p.id))
                .filter(|p| !p.is_covered() || p.opted_out)
                .map(|p| p.id.clone())
                .collect(),
        };
        self.causes
            .entry((label.to_string(), kind))
            .or_default()
            .extend(who);
    }
}

/// The facts of an ended session, with participants as the ordinals they are committed
/// under (first-seen order, from 1).
pub(super) fn facts(
    live: &LiveSession,
    finished: &[FinishedStream],
    reason: EndReason,
) -> LiveFacts {
    let notes = &live.completeness;
    let ordinal = |id: &ParticipantId| {
        live.participants
            .iter()
            .position(|p| p.id == *id)
            .and_then(|index| u32::try_from(index + 1).ok())
    };
    let ordinals = |ids: &BTreeSet<ParticipantId>| -> BTreeSet<u32> {
        ids.iter().filter_map(ordinal).collect()
    };
    let mut streams: Vec<StreamFacts> = finished
        .iter()
        .map(|stream| {
            let statistics = &stream.statistics;
            StreamFacts {
                label: stream.label.to_string(),
                packets_expected: statistics.receive.expected,
                packets_received: statistics.receive.received,
                packets_lost: statistics.receive.lost,
                ssrc_changes: statistics.ssrc_changes,
                first_audio_ms: statistics.first_audio_ms.map(u64::from),
                last_audio_ms: statistics.last_audio_ms.map(u64::from),
                gap_map: stream.gap_map.clone(),
                senders: notes
                    .senders
                    .get(&stream.label)
                    .map(ordinals)
                    .unwrap_or_default(),
                error: stream.error.clone(),
            }
        })
        .collect();
    streams.sort_by(|left, right| left.label.cmp(&right.label));
    LiveFacts {
        expected: notes.expected.clone(),
        streams,
        not_recorded: notes.not_recorded.clone(),
        participants: (1..=live.participants.len())
            .filter_map(|ordinal| u32::try_from(ordinal).ok())
            .map(|ordinal| ParticipantFacts { ordinal })
            .collect(),
        gap_causes: notes
            .causes
            .iter()
            .map(|(key, ids)| (key.clone(), ordinals(ids)))
            .collect(),
        end_reason: format!("{reason:?}"),
    }
}

#[cfg(test)]
mod tests {
    use model::{ConsentEvidence, ConsentKind, EvidenceSource, Pii};
    use siprec::session::StreamActivity;

    use super::*;

    fn label(text: &str) -> StreamLabel {
        StreamLabel::new(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn participant(id: &str, covered: bool, sends_on: &[&str]) -> SessionParticipant {
        SessionParticipant {
            id: ParticipantId::new(id),
            address: Pii::new(format!("sip:{id}@example.com")),
            name: None,
            role: String::new(),
            evidence: if covered {
                vec![ConsentEvidence {
                    kind: ConsentKind::Announcement,
                    at: None,
                    reference: "prompt-1".into(),
                    source: EvidenceSource::CallMetadata,
                }]
            } else {
                Vec::new()
            },
            opted_out: false,
            present: true,
            sends_on: sends_on.iter().map(|l| label(l)).collect(),
        }
    }

    fn plan(text: &str, senders: &[&str]) -> StreamPlan {
        StreamPlan {
            label: label(text),
            index: 0,
            local_port: 40_000,
            local_rtcp_port: 40_001,
            remote: None,
            codecs: Vec::new(),
            telephone_event: None,
            activity: StreamActivity::Recording,
            stream: None,
            senders: senders.iter().map(|id| ParticipantId::new(*id)).collect(),
        }
    }

    fn causes(notes: &CompletenessNotes, stream: &str, kind: GapKind) -> Vec<String> {
        notes
            .causes
            .get(&(stream.to_owned(), kind))
            .map(|ids| ids.iter().map(|id| id.as_str().to_owned()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_hold_names_whoever_sent_on_the_stream_even_after_the_metadata_dropped_them() {
        let mut notes = CompletenessNotes::default();
        notes.plan(&plan("1", &["alice"]));
        notes.participants(&[
            participant("alice", true, &["1"]),
            participant("bob", true, &["2"]),
        ]);
        // RFC 8068 §3.2.2: on hold, the metadata no longer lists Alice's send.
        let now = [
            participant("alice", true, &[]),
            participant("bob", true, &["2"]),
        ];
        notes.gap(&label("1"), GapReason::Hold, &now);
        notes.gap(&label("2"), GapReason::Pause, &now);
        assert_eq!(causes(&notes, "1", GapKind::Hold), vec!["alice"]);
        assert_eq!(causes(&notes, "2", GapKind::Pause), Vec::<String>::new());
        assert!(notes.causes.contains_key(&("2".to_owned(), GapKind::Pause)));
        // Loss and inactivity are not signalled: nothing noted.
        notes.gap(&label("2"), GapReason::Loss, &now);
        assert_eq!(notes.causes.len(), 2);
    }

    #[test]
    fn a_consent_gap_names_only_the_uncovered_or_opted_out_senders() {
        let mut notes = CompletenessNotes::default();
        let mut carol = participant("carol", true, &["1"]);
        carol.opted_out = true;
        let everyone = [
            participant("alice", true, &["1"]),
            participant("dave", false, &["1"]),
            carol,
            participant("erin", false, &["2"]),
        ];
        notes.participants(&everyone);
        notes.gap(&label("1"), GapReason::NoConsent, &everyone);
        assert_eq!(
            causes(&notes, "1", GapKind::NoConsent),
            vec!["carol", "dave"]
        );
    }

    #[test]
    fn expected_streams_come_from_the_sdp_plan_and_the_metadata() {
        let mut notes = CompletenessNotes::default();
        notes.plan(&plan("1", &[]));
        let metadata: RecordingMetadata = serde_json::from_value(serde_json::json!({
            "namespace": "rfc7865",
            "data_mode": "complete",
            "groups": [], "sessions": [], "participants": [],
            "streams": [
                { "id": "s1", "session": null, "label": "1", "associate_time": null, "disassociate_time": null },
                { "id": "s2", "session": null, "label": "2", "associate_time": null, "disassociate_time": null },
                { "id": "s3", "session": null, "label": null, "associate_time": null, "disassociate_time": null }
            ],
            "session_recording_associations": [],
            "participant_session_associations": [],
            "participant_stream_associations": [],
            "notes": []
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        notes.metadata(&metadata);
        notes.not_recorded(&label("2"), "no codec".into());
        notes.not_recorded(&label("2"), "again".into());
        assert_eq!(
            notes.expected,
            BTreeMap::from([
                (
                    "1".to_owned(),
                    BTreeSet::from([Expectation::Sdp, Expectation::Metadata])
                ),
                ("2".to_owned(), BTreeSet::from([Expectation::Metadata])),
            ])
        );
        assert_eq!(
            notes.not_recorded,
            vec![("2".to_owned(), "no codec".to_owned())]
        );
    }
}
