//! RTP and RTCP for onrecord's recorder, sans-IO.
//!
//! Owns: the zero-copy RTP packet parse (RFC 3550 §5.1), the RTCP compound parse
//! (RFC 3550 §6: SR, RR, SDES, BYE, APP), the per-SSRC receive state of RFC 3550
//! Appendix A.1/A.3/A.8 (extended sequence numbers and timestamps, probation, a small
//! reorder window, duplicates, loss, jitter), SSRC-change detection for one media stream,
//! the payload-type → encoding map the caller builds from SDP, RFC 4733 telephone-event
//! payloads and their end-retransmission dedupe, and payload durations per encoding.
//!
//! Never does: sockets, clocks (arrival time is an argument), allocation on the
//! per-packet path, decoding of audio, storage. A panic here is a bug, never bad input:
//! every length on the wire is checked before it is used.

mod packet;
mod payload;
mod receive;
pub mod rtcp;
mod stream;

pub use packet::{HeaderExtension, RTP_HEADER_LEN, RTP_VERSION, RtpPacket, looks_like_rtcp};
pub use payload::{
    Encoding, MAX_PAYLOAD_FORMATS, PayloadFormat, PayloadTypeMap, TelephoneEvent,
    TelephoneEventOutcome, TelephoneEventTracker,
};
pub use receive::{
    MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, ReceiveStatistics, SequenceOutcome, SourceState,
};
pub use stream::{ReceiveConfig, Received, SourceEvent, StreamReceiver};

/// Why bytes are not a valid RTP or RTCP packet, or a payload-type map is refused.
///
/// Every variant except the payload-map ones is caused by the remote peer (the
/// recording client); the payload-map variants are caused by the caller's SDP handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet of {len} bytes is shorter than the {needed}-byte header")]
    TooShort { len: usize, needed: usize },
    #[error("RTP/RTCP version {0} is not 2")]
    Version(u8),
    #[error("CSRC list of {count} entries runs past the end of the packet")]
    CsrcTruncated { count: u8 },
    #[error("header extension runs past the end of the packet")]
    ExtensionTruncated,
    #[error("padding count {count} is zero or larger than the {available} bytes available")]
    Padding { count: u8, available: usize },
    #[error("RTCP packet length {words} words runs past the end of the compound packet")]
    RtcpLength { words: u16 },
    #[error("RTCP packet type {packet_type} body is malformed")]
    RtcpBody { packet_type: u8 },
    #[error("RTCP padding is only allowed on the last packet of a compound packet")]
    RtcpPaddingNotLast,
    #[error("telephone-event payload of {len} bytes is shorter than 4 bytes")]
    TelephoneEventTooShort { len: usize },
    #[error("payload type {0} is outside 0..=127")]
    PayloadTypeOutOfRange(u8),
    #[error("payload-type map holds at most {MAX_PAYLOAD_FORMATS} formats")]
    PayloadMapFull,
    #[error("clock rate must be non-zero")]
    ZeroClockRate,
}
