//! SIPREC recording-server logic (RFC 7866) that does not need a SIP stack: splitting a
//! recording-session body, reading RFC 7865 metadata into one canonical model, keeping the
//! metadata timeline of a recording, and deciding whether a request is a recording session.
//!
//! Owns: [`split_recording_session_body`] (multipart/mixed, RFC 2046 §5.1), the metadata
//! reader ([`parse_metadata`]) for the RFC namespace and the dialects real clients send
//! (unversioned namespace, pre-RFC `recording_metadata`, `id`/`session` attributes, prefixes,
//! interleaved order, lenient timestamps), per-participant consent evidence from our metadata
//! extension, [`MetadataState`] (complete snapshots and partial updates over time, label ↔
//! stream ↔ participant resolution per offer), [`classify`] (RFC 7866 §6.2), and the
//! recording server itself ([`session::RecordingServer`]): the SRS behaviour of RFC 7866 on
//! top of the sans-IO `sip` endpoint — client allow-list, consent gate, `recvonly` answers
//! with allocated ports, pause/resume, metadata updates and snapshot requests, teardown.
//!
//! Never does: I/O (no sockets, no tasks: the driver feeds bytes and drains transmits and
//! events), SIP message handling below the application (that is the `sip` crate), SDP
//! answers (the `sdp` crate builds them), clocks (times are arguments), or the consent rules
//! themselves (the `consent` crate decides; this crate feeds it the call's participants).
//! Hostile input returns a [`SiprecError`] or a SIP refusal, never a panic; every size is
//! bounded.

mod classify;
pub mod metadata;
mod multipart;
pub mod session;

pub use classify::{
    LegacyReason, RequestFacts, SessionKind, classify, contact_has_src_feature_tag,
    require_lists_siprec,
};
pub use metadata::state::{
    LabelResolution, MAX_METADATA_VERSIONS, MetadataState, MetadataVersion, resolve_labels,
};
pub use metadata::{
    CONSENT_NAMESPACE, ConsentClaim, DataMode, Group, GroupId, MAX_ELEMENT_DEPTH,
    MAX_ELEMENTS_PER_KIND, MAX_METADATA_BYTES, MetadataDocument, MetadataNamespace, MetadataTime,
    NameId, Participant, ParticipantId, ParticipantSessionAssociation,
    ParticipantStreamAssociation, RecordingMetadata, SessionId, SessionParameter, SessionReason,
    SessionRecordingAssociation, SnapshotRequest, Stream, StreamId, TimeNote, parse_metadata,
    parse_recording_metadata,
};
pub use multipart::{
    BodyPart, MAX_BODY_BYTES, MAX_PARTS, MetadataPart, SessionBody, split_recording_session_body,
};
pub use session::{
    ClientPolicy, ControlError, EndReason, PauseReason, PortAllocator, PortPool, RecordingServer,
    Refusal, ServerConfig, SessionError, SessionEvent, SessionParticipant, SessionPhase,
    SessionStarted, StreamActivity, StreamPlan, UNIDENTIFIED_PARTICIPANT, sip_rejection,
};

/// Why a body, a metadata document or a metadata update was refused. All are caused by the
/// remote recording client's bytes; a caller maps them to a SIP status in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiprecError {
    #[error("request body is {size} bytes; the limit is {limit}")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("body type {0:?} is neither SDP, recording metadata nor multipart")]
    UnsupportedContentType(String),
    #[error("multipart body has no boundary parameter and no delimiter line")]
    MissingBoundary,
    #[error("multipart body has no parts")]
    NoParts,
    #[error("multipart body has more than {limit} parts")]
    TooManyParts { limit: usize },
    #[error("malformed header in a body part")]
    MalformedPartHeader,
    #[error("more than one {0} part in one body")]
    DuplicatePart(&'static str),

    #[error("metadata is {size} bytes; the limit is {limit}")]
    MetadataTooLarge { size: usize, limit: usize },
    #[error("metadata is not UTF-8 (RFC 7865 §5.1)")]
    MetadataNotUtf8,
    #[error("metadata declares a DTD (<!DOCTYPE>/<!ENTITY>); refused to prevent entity expansion")]
    DoctypeRefused,
    #[error("metadata is not well-formed XML: {0}")]
    MalformedXml(String),
    #[error("metadata nests elements deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("metadata has more than {limit} <{element}> elements")]
    TooManyElements { element: String, limit: usize },
    #[error("metadata has no root element")]
    EmptyDocument,
    #[error("metadata root <{0}> is not <recording>, <recording_metadata> or <requestsnapshot>")]
    UnexpectedRoot(String),
    #[error("expected recording metadata, got a snapshot request")]
    NotRecordingMetadata,

    #[error("partial metadata update before any complete snapshot (RFC 7866 §9.1)")]
    PartialBeforeSnapshot,
    #[error("more than {limit} metadata versions in one recording")]
    TooManyVersions { limit: usize },
}
