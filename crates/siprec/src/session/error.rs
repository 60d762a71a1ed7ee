//! Why the recording server refused a request, and the one function that turns a refusal
//! into a SIP status, a `Warning` text and a stable code (STYLE.md §5).

use consent::RefusalReason;
use sdp::SdpError;

use crate::{LegacyReason, SiprecError};

/// Which side caused a refusal (STYLE.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Culprit {
    /// The recording client's request.
    RemotePeer,
    /// The operator's configuration (client allow-list, consent policy).
    Configuration,
    /// Our own limits (capacity, ports).
    Server,
}

/// Why a request was refused. Messages name no participant by address or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("recording client not allowed")]
    ClientNotAllowed,
    #[error(
        "legacy recording dialect ({}) not accepted from this recording client",
        legacy_text(*.0)
    )]
    LegacyDialectRefused(LegacyReason),
    #[error(
        "not a recording session: no +sip.src feature tag, no Require: siprec and no recording metadata (RFC 7866 §6.2)"
    )]
    NotRecordingSession,
    #[error("unreadable recording-session body: {0}")]
    Body(SiprecError),
    #[error("unreadable recording metadata: {0}")]
    Metadata(SiprecError),
    #[error("the metadata body is a snapshot request; a recording client sends recording metadata")]
    SnapshotRequestFromClient,
    #[error("unreadable SDP offer: {0}")]
    Sdp(SdpError),
    #[error("no SDP offer; the recording server answers offers and never makes one")]
    MissingOffer,
    #[error("no offered stream can be recorded (audio over RTP/AVP with G.711, G.722 or Opus)")]
    NoRecordableStream,
    #[error("consent: {0}")]
    Consent(RefusalReason),
    #[error("the recording server is at its session limit")]
    AtCapacity,
    #[error("no free media ports")]
    NoMediaPorts,
}

fn legacy_text(reason: LegacyReason) -> &'static str {
    match reason {
        LegacyReason::MissingSrcFeatureTagAndRequire => {
            "metadata without +sip.src and Require: siprec"
        }
        LegacyReason::MissingSrcFeatureTag => "metadata without the +sip.src feature tag",
        LegacyReason::MissingRequireSiprec => "metadata without Require: siprec",
    }
}

/// How a refusal goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipRejection {
    pub status: u16,
    /// The text of `Warning: 399 <agent> "<text>"` (RFC 3261 §20.43: 399 is "miscellaneous").
    pub warning: String,
    /// `Retry-After` seconds, for refusals that may succeed later.
    pub retry_after: Option<u32>,
    /// Stable machine code for counters, the audit log and the transparency report.
    pub code: &'static str,
    pub culprit: Culprit,
}

/// The one mapping from a refusal to its SIP status, Warning text and code.
pub fn sip_rejection(error: &SessionError, retry_after_seconds: u32) -> SipRejection {
    let (status, code, culprit) = match error {
        SessionError::ClientNotAllowed => (403, "client-not-allowed", Culprit::Configuration),
        SessionError::LegacyDialectRefused(_) => {
            (403, "legacy-dialect-not-accepted", Culprit::Configuration)
        }
        SessionError::NotRecordingSession => (488, "not-a-recording-session", Culprit::RemotePeer),
        SessionError::Body(
            SiprecError::UnsupportedContentType(_) | SiprecError::MetadataNotUtf8,
        ) => (415, "unsupported-body", Culprit::RemotePeer),
        SessionError::Body(SiprecError::BodyTooLarge { .. }) => {
            (413, "body-too-large", Culprit::RemotePeer)
        }
        SessionError::Body(_) => (400, "malformed-body", Culprit::RemotePeer),
        SessionError::Metadata(SiprecError::MetadataNotUtf8) => {
            (415, "unsupported-body", Culprit::RemotePeer)
        }
        SessionError::Metadata(SiprecError::PartialBeforeSnapshot) => {
            (400, "partial-metadata-before-snapshot", Culprit::RemotePeer)
        }
        SessionError::Metadata(_) | SessionError::SnapshotRequestFromClient => {
            (400, "malformed-metadata", Culprit::RemotePeer)
        }
        SessionError::Sdp(_) => (400, "malformed-sdp", Culprit::RemotePeer),
        SessionError::MissingOffer => (488, "missing-sdp-offer", Culprit::RemotePeer),
        SessionError::NoRecordableStream => (488, "no-recordable-stream", Culprit::RemotePeer),
        // DESIGN.md: a call without consent evidence is refused with a reason.
        SessionError::Consent(reason) => (403, reason.as_code(), Culprit::Configuration),
        SessionError::AtCapacity => (503, "at-capacity", Culprit::Server),
        SessionError::NoMediaPorts => (503, "no-media-ports", Culprit::Server),
    };
    let warning = match error {
        // The consent reason is already a sentence meant for the operator.
        SessionError::Consent(reason) => reason.to_string(),
        other => other.to_string(),
    };
    SipRejection {
        status,
        warning,
        retry_after: (status == 503).then_some(retry_after_seconds),
        code,
        culprit,
    }
}

#[cfg(test)]
mod tests {
    use model::ConsentPolicy;

    use super::*;

    #[test]
    fn consent_refusal_is_403_with_the_reason_sentence() {
        let reason = RefusalReason::NoParticipantWithEvidence {
            participants: 2,
            opted_out: 0,
            policy: ConsentPolicy::OneParty,
            discarded: consent::DiscardedEvidence::default(),
        };
        let rejection = sip_rejection(&SessionError::Consent(reason.clone()), 5);
        assert_eq!(rejection.status, 403);
        assert_eq!(rejection.code, "no-participant-with-evidence");
        assert_eq!(rejection.warning, reason.to_string());
        assert_eq!(rejection.retry_after, None);
    }

    #[test]
    fn capacity_is_503_with_retry_after() {
        let rejection = sip_rejection(&SessionError::AtCapacity, 7);
        assert_eq!((rejection.status, rejection.retry_after), (503, Some(7)));
        assert_eq!(rejection.culprit, Culprit::Server);
    }
}
