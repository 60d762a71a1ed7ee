//! RFC 7865 recording metadata: one canonical model for every dialect, its reader, and
//! the timeline of a recording's metadata.

mod consent;
mod interpret;
mod time;
mod xml;

pub mod state;

use std::fmt;

use model::Pii;
use serde::{Deserialize, Serialize};

pub use consent::{CONSENT_NAMESPACE, ConsentClaim};
pub use time::{MetadataTime, TimeNote};
pub use xml::{MAX_ELEMENT_DEPTH, MAX_ELEMENTS_PER_KIND, MAX_METADATA_BYTES};

use crate::SiprecError;

macro_rules! metadata_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> $name {
                $name(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

metadata_id!(
    /// `group_id` of a communication-session group (RFC 7865 §6.2).
    GroupId
);
metadata_id!(
    /// `session_id` of a communication session (RFC 7865 §6.3).
    SessionId
);
metadata_id!(
    /// `participant_id` (RFC 7865 §6.5). RFC 7865 §6.10: never derived from personal data.
    ParticipantId
);
metadata_id!(
    /// `stream_id` of a media stream (RFC 7865 §6.7).
    StreamId
);

/// Which namespace the document used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetadataNamespace {
    /// `urn:ietf:params:xml:ns:recording:1` (RFC 7865 §6.11).
    Rfc7865,
    /// `urn:ietf:params:xml:ns:recording` without `:1` (Oracle/Acme, Sonus, Metaswitch).
    RecordingUnversioned,
    /// Pre-RFC `urn:ietf:params:xml:ns:siprec` (BroadWorks, Webex Calling).
    PreRfcSiprec,
    /// No namespace declared at all.
    None,
}

impl MetadataNamespace {
    pub fn from_uri(uri: &[u8]) -> Option<MetadataNamespace> {
        match uri {
            b"urn:ietf:params:xml:ns:recording:1" => Some(MetadataNamespace::Rfc7865),
            b"urn:ietf:params:xml:ns:recording" => Some(MetadataNamespace::RecordingUnversioned),
            b"urn:ietf:params:xml:ns:siprec" => Some(MetadataNamespace::PreRfcSiprec),
            _ => None,
        }
    }
}

/// `datamode` (RFC 7865 §5.1.2): absent means complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataMode {
    Complete,
    Partial,
}

/// A communication-session group (RFC 7865 §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub associate_time: Option<MetadataTime>,
    pub disassociate_time: Option<MetadataTime>,
}

/// A `reason` of a communication session (RFC 7865 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReason {
    pub cause: Option<String>,
    pub protocol: Option<String>,
    pub text: String,
}

/// A communication session (RFC 7865 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    /// RFC 7989 Session-ID values, whitespace removed.
    pub sip_session_ids: Vec<String>,
    pub group: Option<GroupId>,
    pub start_time: Option<MetadataTime>,
    pub stop_time: Option<MetadataTime>,
    pub reasons: Vec<SessionReason>,
}

/// One `nameID` of a participant: the address of record and the display name are personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameId {
    pub aor: Pii<String>,
    pub name: Option<Pii<String>>,
    pub language: Option<String>,
}

/// A participant (RFC 7865 §6.5), with the consent evidence our extension carried for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub names: Vec<NameId>,
    pub consent: Vec<ConsentClaim>,
}

/// A media stream (RFC 7865 §6.7); `label` is the SDP `a=label` it is carried on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    pub id: StreamId,
    pub session: Option<SessionId>,
    pub label: Option<String>,
    pub associate_time: Option<MetadataTime>,
    pub disassociate_time: Option<MetadataTime>,
}

/// `sessionrecordingassoc` (RFC 7865 §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecordingAssociation {
    pub session: SessionId,
    pub associate_time: Option<MetadataTime>,
    pub disassociate_time: Option<MetadataTime>,
}

/// A `param` of a participant-session association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionParameter {
    pub name: String,
    pub value: String,
}

/// `participantsessionassoc` (RFC 7865 §6.6): when a participant joined and left a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantSessionAssociation {
    pub participant: ParticipantId,
    pub session: SessionId,
    pub associate_time: Option<MetadataTime>,
    pub disassociate_time: Option<MetadataTime>,
    pub parameters: Vec<SessionParameter>,
}

/// `participantstreamassoc` (RFC 7865 §6.8): the streams a participant sends and receives.
/// RFC 7865 §6.8: a stream missing from `send` means the participant stopped sending on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantStreamAssociation {
    pub participant: ParticipantId,
    pub send: Vec<StreamId>,
    pub receive: Vec<StreamId>,
    pub associate_time: Option<MetadataTime>,
    pub disassociate_time: Option<MetadataTime>,
}

/// One metadata document (complete snapshot or partial update), in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMetadata {
    pub namespace: MetadataNamespace,
    pub data_mode: DataMode,
    pub groups: Vec<Group>,
    pub sessions: Vec<Session>,
    pub participants: Vec<Participant>,
    pub streams: Vec<Stream>,
    pub session_recording_associations: Vec<SessionRecordingAssociation>,
    pub participant_session_associations: Vec<ParticipantSessionAssociation>,
    pub participant_stream_associations: Vec<ParticipantStreamAssociation>,
    /// What the reader tolerated or ignored (dialect quirks, unknown elements), for operators.
    pub notes: Vec<String>,
}

impl RecordingMetadata {
    pub fn empty(namespace: MetadataNamespace, data_mode: DataMode) -> RecordingMetadata {
        RecordingMetadata {
            namespace,
            data_mode,
            groups: Vec::new(),
            sessions: Vec::new(),
            participants: Vec::new(),
            streams: Vec::new(),
            session_recording_associations: Vec::new(),
            participant_session_associations: Vec::new(),
            participant_stream_associations: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn participant(&self, id: &ParticipantId) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|participant| participant.id == *id)
    }

    pub fn stream(&self, id: &StreamId) -> Option<&Stream> {
        self.streams.iter().find(|stream| stream.id == *id)
    }
}

/// A snapshot request from the recording server (RFC 7865 §7, RFC 7866 §9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    pub reason: Option<String>,
    pub language: Option<String>,
}

/// What a metadata body holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetadataDocument {
    Recording(RecordingMetadata),
    SnapshotRequest(SnapshotRequest),
}

/// Reads a metadata body: a `<recording>` (or pre-RFC `<recording_metadata>`) document or a
/// `<requestsnapshot>`. Bounded by [`MAX_METADATA_BYTES`], [`MAX_ELEMENT_DEPTH`] and
/// [`MAX_ELEMENTS_PER_KIND`]; any DTD is refused.
pub fn parse_metadata(bytes: &[u8]) -> Result<MetadataDocument, SiprecError> {
    let root = xml::read_tree(bytes)?;
    interpret::document(&root)
}

/// Reads a metadata body that must be recording metadata (not a snapshot request).
pub fn parse_recording_metadata(bytes: &[u8]) -> Result<RecordingMetadata, SiprecError> {
    match parse_metadata(bytes)? {
        MetadataDocument::Recording(metadata) => Ok(metadata),
        MetadataDocument::SnapshotRequest(_) => Err(SiprecError::NotRecordingMetadata),
    }
}
