//! Walks the XML tree of a metadata document into the canonical model. Element order,
//! prefixes and the RFC/legacy spellings of names and attributes do not matter.

use model::Pii;

use super::consent::read_claim;
use super::xml::{Element, Namespace};
use super::{
    DataMode, Group, GroupId, MetadataDocument, MetadataNamespace, MetadataTime, NameId,
    Participant, ParticipantId, ParticipantSessionAssociation, ParticipantStreamAssociation,
    RecordingMetadata, Session, SessionId, SessionParameter, SessionReason,
    SessionRecordingAssociation, SnapshotRequest, Stream, StreamId,
};
use crate::SiprecError;

/// Most notes kept per document.
const MAX_NOTES: usize = 64;

pub(crate) fn document(root: &Element) -> Result<MetadataDocument, SiprecError> {
    if !root.namespace.is_recording() {
        return Err(SiprecError::UnexpectedRoot(
            root.name.chars().take(64).collect(),
        ));
    }
    match root.name.as_str() {
        "recording" | "recording_metadata" => Ok(MetadataDocument::Recording(recording(root))),
        "requestsnapshot" => {
            let reason = root.recording_children("requestreason").next();
            Ok(MetadataDocument::SnapshotRequest(SnapshotRequest {
                reason: reason.map(|element| element.text.trim().to_owned()),
                language: reason
                    .and_then(|element| element.attribute(&["lang"]))
                    .map(str::to_owned),
            }))
        }
        other => Err(SiprecError::UnexpectedRoot(
            other.chars().take(64).collect(),
        )),
    }
}

struct Reader {
    metadata: RecordingMetadata,
}

impl Reader {
    fn note(&mut self, note: String) {
        if self.metadata.notes.len() < MAX_NOTES && !self.metadata.notes.contains(&note) {
            self.metadata.notes.push(note);
        }
    }
}

fn recording(root: &Element) -> RecordingMetadata {
    let namespace = match root.namespace {
        Namespace::Recording(namespace) => namespace,
        _ => MetadataNamespace::None,
    };
    let mut reader = Reader {
        metadata: RecordingMetadata::empty(namespace, DataMode::Complete),
    };
    if root.name == "recording_metadata" {
        reader.note("pre-RFC root <recording_metadata>".to_owned());
    }
    if namespace != MetadataNamespace::Rfc7865 {
        reader.note(format!(
            "namespace {namespace:?} instead of urn:ietf:params:xml:ns:recording:1"
        ));
    }
    match root.child_text("datamode") {
        // RFC 7865 §5.1.2: absent datamode means complete.
        None => reader.note("no datamode: complete (RFC 7865 §5.1.2)".to_owned()),
        Some(mode) if mode.eq_ignore_ascii_case("partial") => {
            reader.metadata.data_mode = DataMode::Partial
        }
        Some(mode) if mode.eq_ignore_ascii_case("complete") => {}
        Some(mode) => reader.note(format!("unknown datamode {:?}: complete", truncate(mode))),
    }
    for child in &root.children {
        if !child.namespace.is_recording() {
            reader.note(format!(
                "extension element <{}> ignored",
                truncate(&child.name)
            ));
            continue;
        }
        match child.name.as_str() {
            "datamode" | "extensiondata" => {}
            "group" => group(&mut reader, child),
            "session" => session(&mut reader, child),
            "participant" => participant(&mut reader, child),
            "stream" => stream(&mut reader, child),
            "sessionrecordingassoc" => session_recording_association(&mut reader, child),
            "participantsessionassoc" => participant_session_association(&mut reader, child),
            "participantstreamassoc" => participant_stream_association(&mut reader, child),
            other => reader.note(format!("unknown element <{}> ignored", truncate(other))),
        }
    }
    if root.children.is_empty() && !root.text.trim().is_empty() {
        reader.note("root holds text but no elements; nothing read".to_owned());
    }
    reader.metadata
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

fn time(element: &Element, name: &str) -> Option<MetadataTime> {
    element.child_text(name).map(MetadataTime::parse)
}

/// An id attribute by its RFC name or the legacy `id` (Oracle/Acme).
fn id_attribute<'a>(reader: &mut Reader, element: &'a Element, rfc_name: &str) -> Option<&'a str> {
    let id = element
        .attribute(&[rfc_name])
        .map(str::trim)
        .filter(|id| !id.is_empty());
    if id.is_some() {
        return id;
    }
    let legacy = element
        .attribute(&["id"])
        .map(str::trim)
        .filter(|id| !id.is_empty());
    if legacy.is_some() {
        reader.note(format!(
            "<{}> identified by id= instead of {rfc_name}=",
            element.name
        ));
    } else {
        reader.note(format!("<{}> without {rfc_name} ignored", element.name));
    }
    legacy
}

/// A reference attribute (`session_id` on a stream …) by its RFC name or the legacy short name.
fn reference_attribute<'a>(
    element: &'a Element,
    rfc_name: &str,
    legacy_name: &str,
) -> Option<&'a str> {
    element
        .attribute(&[rfc_name, legacy_name])
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// RFC 7865 §6.10: "If the SRS detects that a UUID is mapped to more than one element … it
/// MUST treat this as an error" — the later element is ignored and noted.
fn duplicate(reader: &mut Reader, kind: &str, id: &str) {
    reader.note(format!(
        "duplicate {kind} id {} ignored (RFC 7865 §6.10)",
        truncate(id)
    ));
}

fn group(reader: &mut Reader, element: &Element) {
    let Some(id) = id_attribute(reader, element, "group_id") else {
        return;
    };
    if reader
        .metadata
        .groups
        .iter()
        .any(|group| group.id.as_str() == id)
    {
        return duplicate(reader, "group", id);
    }
    reader.metadata.groups.push(Group {
        id: GroupId::new(id),
        associate_time: time(element, "associate-time"),
        disassociate_time: time(element, "disassociate-time"),
    });
}

fn session(reader: &mut Reader, element: &Element) {
    let Some(id) = id_attribute(reader, element, "session_id") else {
        return;
    };
    if reader
        .metadata
        .sessions
        .iter()
        .any(|session| session.id.as_str() == id)
    {
        return duplicate(reader, "session", id);
    }
    let session_id = SessionId::new(id);
    // Oracle/Acme put the recording association time on the session itself.
    if element.child_text("associate-time").is_some()
        || element.child_text("disassociate-time").is_some()
    {
        reader
            .note("<session> carries associate-time: read as its recording association".to_owned());
        reader
            .metadata
            .session_recording_associations
            .push(SessionRecordingAssociation {
                session: session_id.clone(),
                associate_time: time(element, "associate-time"),
                disassociate_time: time(element, "disassociate-time"),
            });
    }
    reader.metadata.sessions.push(Session {
        id: session_id,
        sip_session_ids: element
            .recording_children("sipsessionid")
            .map(|child| child.text.split_whitespace().collect::<String>())
            .filter(|value| !value.is_empty())
            .collect(),
        group: element
            .child_text("group-ref")
            .filter(|id| !id.is_empty())
            .map(GroupId::new),
        start_time: time(element, "start-time"),
        stop_time: time(element, "stop-time"),
        reasons: element
            .recording_children("reason")
            .map(|reason| SessionReason {
                cause: reason.attribute(&["cause"]).map(str::to_owned),
                protocol: reason.attribute(&["protocol"]).map(str::to_owned),
                text: reason.text.trim().to_owned(),
            })
            .collect(),
    });
}

fn participant(reader: &mut Reader, element: &Element) {
    let Some(id) = id_attribute(reader, element, "participant_id") else {
        return;
    };
    if reader
        .metadata
        .participants
        .iter()
        .any(|participant| participant.id.as_str() == id)
    {
        return duplicate(reader, "participant", id);
    }
    let participant_id = ParticipantId::new(id);
    let mut names = Vec::new();
    for name_id in element.recording_children("nameid") {
        let Some(aor) = name_id.attribute(&["aor"]).map(str::trim) else {
            reader.note("<nameID> without aor ignored".to_owned());
            continue;
        };
        let name = name_id.recording_children("name").next();
        names.push(NameId {
            aor: Pii::new(aor.to_owned()),
            name: name
                .map(|name| Pii::new(name.text.trim().to_owned()))
                .filter(|name| !name.dangerous_reveal().is_empty()),
            language: name
                .and_then(|name| name.attribute(&["lang"]))
                .map(str::to_owned),
        });
    }
    let mut consent = Vec::new();
    for child in &element.children {
        match (child.namespace, child.name.as_str()) {
            (Namespace::Consent, "consent") => consent.push(read_claim(child)),
            (Namespace::Consent, other) => reader.note(format!(
                "unknown consent-namespace element <{}> ignored",
                truncate(other)
            )),
            _ => {}
        }
    }
    // Oracle/Acme: <send>/<recv> children of <participant>, and a `session` attribute with
    // the participant's associate-time, instead of the association elements.
    let send = stream_ids(element, "send");
    let receive = stream_ids(element, "recv");
    if !send.is_empty() || !receive.is_empty() {
        reader.note("<send>/<recv> inside <participant> read as its stream association".to_owned());
        merge_stream_association(
            reader,
            ParticipantStreamAssociation {
                participant: participant_id.clone(),
                send,
                receive,
                associate_time: None,
                disassociate_time: None,
            },
        );
    }
    if let Some(session) = reference_attribute(element, "session_id", "session") {
        reader.note("session= on <participant> read as its session association".to_owned());
        reader
            .metadata
            .participant_session_associations
            .push(ParticipantSessionAssociation {
                participant: participant_id.clone(),
                session: SessionId::new(session),
                associate_time: time(element, "associate-time"),
                disassociate_time: time(element, "disassociate-time"),
                parameters: Vec::new(),
            });
    }
    reader.metadata.participants.push(Participant {
        id: participant_id,
        names,
        consent,
    });
}

fn stream_ids(element: &Element, name: &str) -> Vec<StreamId> {
    let mut ids: Vec<StreamId> = Vec::new();
    for child in element.recording_children(name) {
        let id = child.text.trim();
        if !id.is_empty() && !ids.iter().any(|known| known.as_str() == id) {
            ids.push(StreamId::new(id));
        }
    }
    ids
}

fn stream(reader: &mut Reader, element: &Element) {
    let Some(id) = id_attribute(reader, element, "stream_id") else {
        return;
    };
    if reader
        .metadata
        .streams
        .iter()
        .any(|stream| stream.id.as_str() == id)
    {
        return duplicate(reader, "stream", id);
    }
    reader.metadata.streams.push(Stream {
        id: StreamId::new(id),
        session: reference_attribute(element, "session_id", "session").map(SessionId::new),
        label: element
            .child_text("label")
            .filter(|label| !label.is_empty())
            .map(str::to_owned),
        associate_time: time(element, "associate-time"),
        disassociate_time: time(element, "disassociate-time"),
    });
}

fn session_recording_association(reader: &mut Reader, element: &Element) {
    let Some(session) = reference_attribute(element, "session_id", "session") else {
        return reader.note("<sessionrecordingassoc> without session_id ignored".to_owned());
    };
    reader
        .metadata
        .session_recording_associations
        .push(SessionRecordingAssociation {
            session: SessionId::new(session),
            associate_time: time(element, "associate-time"),
            disassociate_time: time(element, "disassociate-time"),
        });
}

fn participant_session_association(reader: &mut Reader, element: &Element) {
    let participant = reference_attribute(element, "participant_id", "participant");
    let session = reference_attribute(element, "session_id", "session");
    let (Some(participant), Some(session)) = (participant, session) else {
        return reader.note(
            "<participantsessionassoc> without participant_id or session_id ignored".to_owned(),
        );
    };
    reader
        .metadata
        .participant_session_associations
        .push(ParticipantSessionAssociation {
            participant: ParticipantId::new(participant),
            session: SessionId::new(session),
            associate_time: time(element, "associate-time"),
            disassociate_time: time(element, "disassociate-time"),
            parameters: element
                .recording_children("param")
                .filter_map(|parameter| {
                    Some(SessionParameter {
                        name: parameter.attribute(&["pname"])?.to_owned(),
                        value: parameter.attribute(&["pval"])?.to_owned(),
                    })
                })
                .collect(),
        });
}

fn participant_stream_association(reader: &mut Reader, element: &Element) {
    let Some(participant) = reference_attribute(element, "participant_id", "participant") else {
        return reader.note("<participantstreamassoc> without participant_id ignored".to_owned());
    };
    merge_stream_association(
        reader,
        ParticipantStreamAssociation {
            participant: ParticipantId::new(participant),
            send: stream_ids(element, "send"),
            receive: stream_ids(element, "recv"),
            associate_time: time(element, "associate-time"),
            disassociate_time: time(element, "disassociate-time"),
        },
    );
}

/// One association per participant: a second one in the same document adds its streams.
fn merge_stream_association(reader: &mut Reader, association: ParticipantStreamAssociation) {
    let associations = &mut reader.metadata.participant_stream_associations;
    let Some(existing) = associations
        .iter_mut()
        .find(|existing| existing.participant == association.participant)
    else {
        associations.push(association);
        return;
    };
    for id in association.send {
        if !existing.send.contains(&id) {
            existing.send.push(id);
        }
    }
    for id in association.receive {
        if !existing.receive.contains(&id) {
            existing.receive.push(id);
        }
    }
    existing.associate_time = association
        .associate_time
        .or(existing.associate_time.take());
    existing.disassociate_time = association
        .disassociate_time
        .or(existing.disassociate_time.take());
}
