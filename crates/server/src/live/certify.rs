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
