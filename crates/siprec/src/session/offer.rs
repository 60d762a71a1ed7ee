//! Reading a request's body (SDP offer and metadata, RFC 7866 §9.1) and answering the offer
//! with local ports: the same port for a line seen before, a new one for a new line, none
//! for a rejected line (RFC 3264 §8).

use sdp::{Answer, LocalPort, SdpSession, SessionDescription, StreamOutcome};
use sip::Request;

use super::error::SessionError;
use super::ports::PortAllocator;
use super::view::{MediaLine, media_lines};
use crate::{
    MetadataDocument, RecordingMetadata, RequestFacts, contact_has_src_feature_tag, parse_metadata,
    split_recording_session_body,
};

/// What a request carried.
#[derive(Debug)]
pub(super) struct RequestBody {
    pub offer: Option<SessionDescription>,
    pub metadata: Option<RecordingMetadata>,
    pub has_metadata_part: bool,
}

pub(super) fn read_body(request: &Request) -> Result<RequestBody, SessionError> {
    if request.body.is_empty() {
        return Ok(RequestBody {
            offer: None,
            metadata: None,
            has_metadata_part: false,
        });
    }
    // RFC 3261 §7.4.1: a body needs a Content-Type.
    let content_type = request.headers.first("Content-Type").unwrap_or_default();
    let body =
        split_recording_session_body(content_type, &request.body).map_err(SessionError::Body)?;
    let metadata = match &body.metadata {
        None => None,
        Some(part) => match parse_metadata(part.body).map_err(SessionError::Metadata)? {
            MetadataDocument::Recording(metadata) => Some(metadata),
            MetadataDocument::SnapshotRequest(_) => {
                return Err(SessionError::SnapshotRequestFromClient);
            }
        },
    };
    let offer = body
        .sdp
        .map(SessionDescription::parse)
        .transpose()
        .map_err(SessionError::Sdp)?;
    Ok(RequestBody {
        offer,
        metadata,
        has_metadata_part: body.metadata.is_some(),
    })
}

/// The facts RFC 7866 §6.2 classifies a new INVITE by.
pub(super) fn request_facts(request: &Request, has_metadata_part: bool) -> RequestFacts {
    RequestFacts {
        has_src_feature_tag: request
            .headers
            .all("Contact")
            .any(contact_has_src_feature_tag),
        requires_siprec: request
            .headers
            .require()
            .iter()
            .any(|tag| tag.eq_ignore_ascii_case("siprec")),
        has_metadata_part,
    }
}

/// An answer ready to send, with the ports it took and gave up.
#[derive(Debug)]
pub(super) struct PreparedAnswer {
    pub answer: Answer,
    pub lines: Vec<Option<MediaLine>>,
    /// The SDP session after this answer (origin version moved on); committed with it.
    pub sdp: SdpSession,
    /// Ports taken for new lines: released again if the answer is not sent.
    pub new_ports: Vec<u16>,
    /// Ports of lines this offer rejected or dropped: released once the answer is sent.
    pub released_ports: Vec<u16>,
}

/// Which offered lines the answer would record or keep inactive (every one not rejected).
fn answerable(sdp: &SdpSession, offer: &SessionDescription) -> Result<Vec<bool>, SessionError> {
    let mut probe = sdp.clone();
    let answer = probe
        .answer(offer, &vec![LocalPort::NotReady; offer.media.len()])
        .map_err(SessionError::Sdp)?;
    Ok(answer
        .streams
        .iter()
        .map(|stream| !matches!(stream.outcome, StreamOutcome::Rejected { .. }))
        .collect())
}

/// The media lines the offer would get, with placeholder ports: enough to decide consent
/// before any port is taken.
pub(super) fn probe_lines(
    sdp: &SdpSession,
    offer: &SessionDescription,
) -> Result<Vec<Option<MediaLine>>, SessionError> {
    let mut probe = sdp.clone();
    let answer = probe
        .answer(offer, &vec![LocalPort::NotReady; offer.media.len()])
        .map_err(SessionError::Sdp)?;
    Ok(media_lines(offer, &answer))
}

/// Answers `offer`: lines seen before keep their port, new lines get one from `allocator`.
pub(super) fn answer_offer(
    sdp: &SdpSession,
    offer: &SessionDescription,
    previous: &[Option<MediaLine>],
    allocator: &mut dyn PortAllocator,
) -> Result<PreparedAnswer, SessionError> {
    let answerable = answerable(sdp, offer)?;
    let previous_port = |index: usize| {
        previous
            .get(index)
            .and_then(|line| line.as_ref())
            .map(|line| line.local_port)
    };
    let wanted = answerable
        .iter()
        .enumerate()
        .filter(|(index, answered)| **answered && previous_port(*index).is_none())
        .count();
    let mut new_ports = allocator
        .allocate(wanted)
        .ok_or(SessionError::NoMediaPorts)?
        .into_iter();
    let mut taken = Vec::with_capacity(wanted);
    let mut released_ports = Vec::new();
    let mut ports = Vec::with_capacity(answerable.len());
    for (index, answered) in answerable.iter().enumerate() {
        match (*answered, previous_port(index)) {
            (true, Some(port)) => ports.push(LocalPort::Ready(port)),
            (true, None) => match new_ports.next() {
                Some(port) => {
                    taken.push(port);
                    ports.push(LocalPort::Ready(port));
                }
                None => ports.push(LocalPort::NotReady),
            },
            (false, previous) => {
                released_ports.extend(previous);
                ports.push(LocalPort::NotReady);
            }
        }
    }
    // RFC 3264 §8: lines are never removed; an offer with fewer lines than before is
    // malformed, and the missing lines' ports are given up.
    released_ports.extend(
        previous
            .iter()
            .skip(answerable.len())
            .flatten()
            .map(|line| line.local_port),
    );
    let mut answered_session = sdp.clone();
    let answer = match answered_session.answer(offer, &ports) {
        Ok(answer) => answer,
        Err(error) => {
            allocator.release(&taken);
            return Err(SessionError::Sdp(error));
        }
    };
    let lines = media_lines(offer, &answer);
    Ok(PreparedAnswer {
        answer,
        lines,
        sdp: answered_session,
        new_ports: taken,
        released_ports,
    })
}
