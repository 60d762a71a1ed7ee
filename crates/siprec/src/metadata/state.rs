//! The metadata timeline of one recording: complete snapshots replace, partial updates merge
//! (RFC 7865 §8.2, RFC 7866 §9.2 "keep track of the sequence of updates"), every received
//! version is kept with its arrival time, and SDP labels are resolved to streams and
//! participants against the current view, once per offer (RFC 7866 §7.1.1: a label's scope
//! is the one request or response that carries it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    DataMode, ParticipantId, ParticipantSessionAssociation, ParticipantStreamAssociation,
    RecordingMetadata, StreamId,
};
use crate::SiprecError;

/// Most metadata versions kept for one recording.
pub const MAX_METADATA_VERSIONS: usize = 1_000;

/// Most notes kept in the merged view.
const MAX_MERGED_NOTES: usize = 64;

/// One received metadata document and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataVersion {
    /// 1 for the first document of the recording.
    pub sequence: u32,
    pub received_at: DateTime<Utc>,
    pub document: RecordingMetadata,
}

/// What one SDP label resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelResolution {
    pub label: String,
    /// The metadata stream carried on this label; `None` when the metadata names none.
    pub stream: Option<StreamId>,
    /// Participants sending on the stream, in metadata order, without those who left.
    pub senders: Vec<ParticipantId>,
    /// Participants receiving the stream, likewise.
    pub receivers: Vec<ParticipantId>,
}

/// The metadata of one recording over time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataState {
    current: Option<RecordingMetadata>,
    history: Vec<MetadataVersion>,
}

impl MetadataState {
    pub fn new() -> MetadataState {
        MetadataState::default()
    }

    /// The merged view after every document applied so far.
    pub fn current(&self) -> Option<&RecordingMetadata> {
        self.current.as_ref()
    }

    /// Every document applied, oldest first.
    pub fn history(&self) -> &[MetadataVersion] {
        &self.history
    }

    /// Applies a document received at `received_at`: a complete snapshot replaces the view,
    /// a partial update merges into it by id.
    pub fn apply(
        &mut self,
        received_at: DateTime<Utc>,
        document: RecordingMetadata,
    ) -> Result<&RecordingMetadata, SiprecError> {
        if self.history.len() >= MAX_METADATA_VERSIONS {
            return Err(SiprecError::TooManyVersions {
                limit: MAX_METADATA_VERSIONS,
            });
        }
        let merged = match (document.data_mode, self.current.take()) {
            (DataMode::Complete, _) => document.clone(),
            // RFC 7866 §9.1: the SRC sends partial updates only after a complete snapshot.
            // The caller may answer with a snapshot request (RFC 7866 §9.2).
            (DataMode::Partial, None) => return Err(SiprecError::PartialBeforeSnapshot),
            (DataMode::Partial, Some(mut current)) => {
                merge(&mut current, &document);
                current
            }
        };
        let sequence = u32::try_from(self.history.len() + 1).unwrap_or(u32::MAX);
        self.history.push(MetadataVersion {
            sequence,
            received_at,
            document,
        });
        Ok(self.current.insert(merged))
    }

    /// Resolves the `a=label` values of the current offer against the current view.
    pub fn resolve_labels<'a>(
        &self,
        labels: impl IntoIterator<Item = &'a str>,
    ) -> Vec<LabelResolution> {
        match &self.current {
            Some(metadata) => resolve_labels(metadata, labels),
            None => labels
                .into_iter()
                .map(|label| LabelResolution {
                    label: label.to_owned(),
                    stream: None,
                    senders: Vec::new(),
                    receivers: Vec::new(),
                })
                .collect(),
        }
    }
}

/// RFC 7865 §8.2: a partial update carries only what changed; each element replaces or
/// extends the element with the same id.
fn merge(current: &mut RecordingMetadata, update: &RecordingMetadata) {
    current.namespace = update.namespace;
    for group in &update.groups {
        match current.groups.iter_mut().find(|known| known.id == group.id) {
            Some(known) => {
                replace_if_some(&mut known.associate_time, &group.associate_time);
                replace_if_some(&mut known.disassociate_time, &group.disassociate_time);
            }
            None => current.groups.push(group.clone()),
        }
    }
    for session in &update.sessions {
        match current
            .sessions
            .iter_mut()
            .find(|known| known.id == session.id)
        {
            Some(known) => {
                if !session.sip_session_ids.is_empty() {
                    known.sip_session_ids.clone_from(&session.sip_session_ids);
                }
                replace_if_some(&mut known.group, &session.group);
                replace_if_some(&mut known.start_time, &session.start_time);
                replace_if_some(&mut known.stop_time, &session.stop_time);
                known.reasons.extend(session.reasons.iter().cloned());
            }
            None => current.sessions.push(session.clone()),
        }
    }
    for participant in &update.participants {
        match current
            .participants
            .iter_mut()
            .find(|known| known.id == participant.id)
        {
            Some(known) => {
                if !participant.names.is_empty() {
                    known.names.clone_from(&participant.names);
                }
                for claim in &participant.consent {
                    if !known.consent.contains(claim) {
                        known.consent.push(claim.clone());
                    }
                }
            }
            None => current.participants.push(participant.clone()),
        }
    }
    for stream in &update.streams {
        match current
            .streams
            .iter_mut()
            .find(|known| known.id == stream.id)
        {
            Some(known) => {
                replace_if_some(&mut known.session, &stream.session);
                replace_if_some(&mut known.label, &stream.label);
                replace_if_some(&mut known.associate_time, &stream.associate_time);
                replace_if_some(&mut known.disassociate_time, &stream.disassociate_time);
            }
            None => current.streams.push(stream.clone()),
        }
    }
    for association in &update.session_recording_associations {
        match current
            .session_recording_associations
            .iter_mut()
            .find(|known| known.session == association.session)
        {
            Some(known) => {
                replace_if_some(&mut known.associate_time, &association.associate_time);
                replace_if_some(&mut known.disassociate_time, &association.disassociate_time);
            }
            None => current
                .session_recording_associations
                .push(association.clone()),
        }
    }
    for association in &update.participant_session_associations {
        merge_participant_session(&mut current.participant_session_associations, association);
    }
    for association in &update.participant_stream_associations {
        merge_participant_stream(&mut current.participant_stream_associations, association);
    }
    for note in &update.notes {
        if current.notes.len() < MAX_MERGED_NOTES && !current.notes.contains(note) {
            current.notes.push(note.clone());
        }
    }
}

fn replace_if_some<T: Clone>(known: &mut Option<T>, update: &Option<T>) {
    if update.is_some() {
        known.clone_from(update);
    }
}

fn merge_participant_session(
    known: &mut Vec<ParticipantSessionAssociation>,
    update: &ParticipantSessionAssociation,
) {
    let existing = known.iter_mut().find(|existing| {
        existing.participant == update.participant && existing.session == update.session
    });
    match existing {
        Some(existing) => {
            // A new associate-time after a disassociation is a rejoin: the old leave no longer holds.
            if update.associate_time.is_some() && update.disassociate_time.is_none() {
                existing.disassociate_time = None;
            }
            replace_if_some(&mut existing.associate_time, &update.associate_time);
            replace_if_some(&mut existing.disassociate_time, &update.disassociate_time);
            if !update.parameters.is_empty() {
                existing.parameters.clone_from(&update.parameters);
            }
        }
        None => known.push(update.clone()),
    }
}

/// RFC 7865 §6.8 and RFC 8068 §3.2.2: an update's send and receive lists replace the old
/// ones wholesale (a stream missing from `send` means the participant stopped sending).
fn merge_participant_stream(
    known: &mut Vec<ParticipantStreamAssociation>,
    update: &ParticipantStreamAssociation,
) {
    match known
        .iter_mut()
        .find(|existing| existing.participant == update.participant)
    {
        Some(existing) => {
            existing.send.clone_from(&update.send);
            existing.receive.clone_from(&update.receive);
            replace_if_some(&mut existing.associate_time, &update.associate_time);
            replace_if_some(&mut existing.disassociate_time, &update.disassociate_time);
        }
        None => known.push(update.clone()),
    }
}

/// Resolves SDP labels against one metadata view: label → stream (the latest one with that
/// label whose session has not stopped, else the latest) → participants sending and
/// receiving on it, leaving out participants whose association with the stream's session
/// has ended.
pub fn resolve_labels<'a>(
    metadata: &RecordingMetadata,
    labels: impl IntoIterator<Item = &'a str>,
) -> Vec<LabelResolution> {
    labels
        .into_iter()
        .map(|label| {
            let candidates: Vec<_> = metadata
                .streams
                .iter()
                .filter(|stream| stream.label.as_deref() == Some(label))
                .collect();
            let session_running = |session: &Option<super::SessionId>| {
                session.as_ref().is_none_or(|id| {
                    metadata
                        .sessions
                        .iter()
                        .find(|known| known.id == *id)
                        .is_none_or(|known| known.stop_time.is_none())
                })
            };
            let stream = candidates
                .iter()
                .rev()
                .find(|stream| session_running(&stream.session))
                .or_else(|| candidates.last())
                .copied();
            let Some(stream) = stream else {
                return LabelResolution {
                    label: label.to_owned(),
                    stream: None,
                    senders: Vec::new(),
                    receivers: Vec::new(),
                };
            };
            let present = |participant: &ParticipantId| {
                stream.session.as_ref().is_none_or(|session| {
                    !metadata
                        .participant_session_associations
                        .iter()
                        .any(|association| {
                            association.participant == *participant
                                && association.session == *session
                                && association.disassociate_time.is_some()
                        })
                })
            };
            let on_stream = |pick: fn(&ParticipantStreamAssociation) -> &Vec<StreamId>| {
                metadata
                    .participant_stream_associations
                    .iter()
                    .filter(|association| {
                        pick(association).contains(&stream.id) && present(&association.participant)
                    })
                    .map(|association| association.participant.clone())
                    .collect::<Vec<_>>()
            };
            LabelResolution {
                label: label.to_owned(),
                stream: Some(stream.id.clone()),
                senders: on_stream(|association| &association.send),
                receivers: on_stream(|association| &association.receive),
            }
        })
        .collect()
}
