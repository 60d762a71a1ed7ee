//! SDP for the recording server: parse and write session descriptions (RFC 8866), and build
//! the recording server's answer to a recording client's offer (RFC 3264, RFC 7866).
//!
//! Owns: the typed form of a description ([`SessionDescription`], [`MediaDescription`],
//! [`Attribute`] — `rtpmap`, `fmtp`, `label` (RFC 4574), direction, `rtcp`, `rtcp-mux`,
//! `ptime`, `record`/`recordpref` (RFC 7866 §6.1), every other attribute kept as text), a
//! tolerant and bounded reader, a writer, and [`SdpSession`], which answers offers with
//! `recvonly` streams and keeps the origin line across re-offers.
//!
//! Never does: I/O, port allocation (the caller passes [`LocalPort`]s), SIP, or choosing
//! whether a call may be recorded. Hostile input returns an [`SdpError`], never a panic.

mod answer;
mod parse;
mod types;

pub use answer::{
    Answer, Codec, InactiveReason, LocalPort, PLACEHOLDER_PORT, RejectReason, SdpSession,
    StreamAnswer, StreamOutcome,
};
pub use parse::{MAX_ATTRIBUTES_PER_SECTION, MAX_DESCRIPTION_BYTES, MAX_MEDIA_SECTIONS};
pub use types::{
    Attribute, Connection, MediaDescription, MediaDirection, Origin, OtherLine, RecordIndication,
    RecordPreference, RtcpAddress, RtpMap, SessionDescription,
};

/// Why a description could not be read, or an answer not built. Every variant is caused by
/// the remote peer's bytes, except [`SdpError::PortCountMismatch`] (the caller's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("session description is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("session description has no lines")]
    Empty,
    #[error("line {line} is not a `<letter>=<value>` line")]
    MalformedLine { line: usize },
    #[error("line {line}: malformed o= line")]
    InvalidOrigin { line: usize },
    #[error("line {line}: malformed c= line")]
    InvalidConnection { line: usize },
    #[error("line {line}: malformed m= line")]
    InvalidMedia { line: usize },
    #[error("more than {limit} media sections")]
    TooManyMediaSections { limit: usize },
    #[error("more than {limit} attributes in one section")]
    TooManyAttributes { limit: usize },
    #[error("the offer has {offered} media sections but {given} local ports were given")]
    PortCountMismatch { offered: usize, given: usize },
}
