//! What the recording server tells its driver: sessions started, refused, changed and ended,
//! with the stream plan (ports, remote addresses, codecs) and the participants with their
//! consent evidence.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use model::{ConsentEvidence, Pii, RecordingId, StreamLabel, TenantId};
use sdp::RtpMap;
use sip::Transport;

use super::error::Culprit;
use crate::{ParticipantId, RecordingMetadata, StreamId};

/// Why a stream is not being recorded for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PauseReason {
    /// A participant sending on the stream has no consent evidence (all-party policy), asked
    /// not to be recorded (`a=recordpref:off`), or (one-party policy) nobody in the call is
    /// covered any more. DESIGN.md: the recording pauses until evidence arrives.
    NoConsent,
    /// The recording client paused the stream: `a=inactive` (or `a=recvonly`) in its offer
    /// (RFC 7866 §7.1.1.1).
    Pause,
    /// Nobody sends on the stream any more: the metadata dropped every `send` for it
    /// (RFC 7865 §6.8, the hold flow of RFC 8068 §3.2.2).
    Hold,
}

/// Whether a stream is being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamActivity {
    Recording,
    Paused(PauseReason),
}

/// One recorded stream (one offered `m=` line that was not rejected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    /// The `a=label` of the offer (RFC 7866 §7.1.1), or `m<index>` when the offer has none
    /// (or one that cannot name a stored stream).
    pub label: StreamLabel,
    /// Position of the `m=` line in the offer (RFC 3264 §8: positions never change).
    pub index: usize,
    /// RTP arrives here.
    pub local_port: u16,
    /// RTCP arrives here: `local_port + 1`, or `local_port` itself with `rtcp-mux`.
    pub local_rtcp_port: u16,
    /// Where the client sends from, per its SDP `c=`/`m=` (symmetric RTP, RFC 7866 §8.1.8);
    /// `None` when the address is a name or unreadable.
    pub remote: Option<SocketAddr>,
    /// The payload types answered, each with its codec (`rtpmap`, or the static assignment).
    pub codecs: Vec<RtpMap>,
    /// The `telephone-event` payload type (RFC 4733), if answered.
    pub telephone_event: Option<u8>,
    pub activity: StreamActivity,
    /// The metadata stream carried on this label.
    pub stream: Option<StreamId>,
    /// Participants sending on it, per the metadata.
    pub senders: Vec<ParticipantId>,
}

/// One participant of the recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParticipant {
    pub id: ParticipantId,
    pub address: Pii<String>,
    pub name: Option<Pii<String>>,
    /// A role if the client named one (`role` parameter of the participant's session
    /// association), else empty.
    pub role: String,
    /// The evidence that covers the participant; empty when not covered.
    pub evidence: Vec<ConsentEvidence>,
    /// `a=recordpref:off` for a stream the participant sends on.
    pub opted_out: bool,
    /// Still in the call (no disassociation from every session, RFC 7865 §6.6).
    pub present: bool,
    /// Labels of the streams the participant sends on.
    pub sends_on: Vec<StreamLabel>,
}

impl SessionParticipant {
    pub fn is_covered(&self) -> bool {
        !self.evidence.is_empty()
    }
}

/// A recording session that has been answered 200 OK.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStarted {
    pub session: RecordingId,
    /// The SIP Call-ID of the recording session (not personal data).
    pub call_id: String,
    pub tenant: TenantId,
    /// Name of the recording client, from its configuration.
    pub client: String,
    pub started_at: DateTime<Utc>,
    /// Whether it is an RFC 7866 session or a legacy dialect accepted by client policy.
    pub legacy: bool,
    pub streams: Vec<StreamPlan>,
    pub participants: Vec<SessionParticipant>,
    /// The metadata view after the INVITE, if it carried metadata.
    pub metadata: Option<RecordingMetadata>,
}

/// A request the recording server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The session, when the request was in an existing one (then the session goes on).
    pub session: Option<RecordingId>,
    /// Stable code (`client-not-allowed`, `participant-without-evidence`, …).
    pub code: &'static str,
    /// The Warning text sent to the client.
    pub message: String,
    pub status: u16,
    pub culprit: Culprit,
    /// The configured recording client, `None` when the source is unknown.
    pub client: Option<String>,
    pub tenant: Option<TenantId>,
    pub call_id: String,
    pub at: DateTime<Utc>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The recording client sent BYE.
    Bye,
    /// No ACK for our 200 OK (RFC 3261 §13.3.1.4); the dialog was torn down with a BYE.
    AckTimeout,
    /// A request we sent in the dialog failed (481/408 or no answer, RFC 3261 §12.2.1.2).
    DialogFailed { status: Option<u16> },
    /// The INVITE was cancelled before it was answered.
    Cancelled,
    /// Asked by the driver: no RTP for too long.
    MediaTimeout,
    /// Asked by the driver: the server is shutting down.
    Shutdown,
    /// Asked by the driver: an operator ended it.
    Operator,
}

/// Something the driver acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Started(Box<SessionStarted>),
    Refused(Box<Refusal>),
    /// The metadata changed (RFC 7865 §8.2 partial updates are merged first).
    MetadataUpdated {
        session: RecordingId,
        metadata: Box<RecordingMetadata>,
        participants: Vec<SessionParticipant>,
    },
    /// The set of streams, their ports, remote addresses or codecs changed; the full list.
    StreamsChanged {
        session: RecordingId,
        streams: Vec<StreamPlan>,
    },
    StreamPaused {
        session: RecordingId,
        label: StreamLabel,
        reason: PauseReason,
    },
    StreamResumed {
        session: RecordingId,
        label: StreamLabel,
    },
    /// We asked the client for a full metadata snapshot (RFC 7866 §9.2).
    SnapshotRequested {
        session: RecordingId,
    },
    SessionEnded {
        session: RecordingId,
        reason: EndReason,
        ended_at: DateTime<Utc>,
    },
    /// A stream connection lost its SIP framing; the driver should close it.
    ConnectionUnusable {
        remote: SocketAddr,
        transport: Transport,
    },
}
