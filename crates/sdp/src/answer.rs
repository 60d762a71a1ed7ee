//! The recording server's SDP answer (RFC 3264 §6, RFC 7866 §7.2 and §8.1).
//!
//! The SRS only receives: every stream it records is answered `recvonly`; a stream it cannot
//! take yet is answered `inactive` and re-offered later (RFC 7866 Figure 7); a stream with no
//! common codec, an unsupported media type or transport is rejected with port 0 (RFC 3264 §6).

use std::net::IpAddr;

use crate::SdpError;
use crate::types::{
    Attribute, Connection, MediaDescription, MediaDirection, Origin, OtherLine, RtcpAddress,
    RtpMap, SessionDescription,
};

/// The port written for a stream that is answered `inactive` before a local port exists.
/// Port 0 would reject the stream (RFC 3264 §6), so the discard port stands in, as RFC 8843
/// does for bundled sections.
pub const PLACEHOLDER_PORT: u16 = 9;

/// A codec the recording server accepts (it stores payloads as received, DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// G.722, static payload type 9 (clock rate written 8000, RFC 3551 §4.5.2).
    G722,
    /// `opus/48000/2` on a dynamic payload type (RFC 7587).
    Opus,
    /// `telephone-event/8000` (RFC 4733); never enough on its own.
    TelephoneEvent,
}

impl Codec {
    pub const ALL: [Codec; 5] = [
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::Opus,
        Codec::TelephoneEvent,
    ];

    fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::Opus | Codec::TelephoneEvent => None,
        }
    }

    /// Encoding name, clock rate and encoding parameters of the codec's `a=rtpmap`.
    fn encoding(self) -> (&'static str, u32, Option<&'static str>) {
        match self {
            Codec::Pcmu => ("PCMU", 8000, None),
            Codec::Pcma => ("PCMA", 8000, None),
            Codec::G722 => ("G722", 8000, None),
            Codec::Opus => ("opus", 48_000, Some("2")),
            Codec::TelephoneEvent => ("telephone-event", 8000, None),
        }
    }

    fn carries_audio(self) -> bool {
        self != Codec::TelephoneEvent
    }

    /// Whether offered payload type `payload_type`, with its `a=rtpmap` if any, is this codec.
    /// An rtpmap decides when present; otherwise only a static payload type can match.
    fn matches(self, payload_type: u8, rtpmap: Option<&RtpMap>) -> bool {
        let (name, clock_rate, parameters) = self.encoding();
        match rtpmap {
            Some(map) => {
                map.encoding_name.eq_ignore_ascii_case(name)
                    && map.clock_rate == clock_rate
                    && match parameters {
                        Some(channels) => map.encoding_parameters.as_deref() == Some(channels),
                        None => map.encoding_parameters.as_deref().is_none_or(|p| p == "1"),
                    }
            }
            None => self.static_payload_type() == Some(payload_type),
        }
    }

    fn rtpmap(self, payload_type: u8) -> RtpMap {
        let (name, clock_rate, parameters) = self.encoding();
        RtpMap {
            payload_type,
            encoding_name: name.to_owned(),
            clock_rate,
            encoding_parameters: parameters.map(str::to_owned),
        }
    }
}

/// The local media port the caller allocated for one offered `m=` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPort {
    /// RTP arrives on this port; RTCP on the next one unless `rtcp-mux` is offered.
    Ready(u16),
    /// No port yet: the stream is answered `inactive` (RFC 7866 §7.2, Figure 7).
    NotReady,
}

/// Why a stream is answered `inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InactiveReason {
    /// The caller has no port for it yet.
    NotReady,
    /// The offer itself is `inactive` (a paused recording, RFC 7866 §7.1.1.1).
    OfferInactive,
    /// The offer asks us to send (`recvonly`); a recording server never sends media.
    OfferReceiveOnly,
}

/// Why a stream is rejected with port 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The offer already had port 0 (RFC 3264 §6: it stays rejected).
    RejectedInOffer,
    /// Not audio over RTP/AVP or RTP/AVPF.
    UnsupportedMedia,
    /// None of the offered payload formats is a codec we accept.
    NoCommonCodec,
}

/// What the answer says about one offered stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Answered `recvonly` on `port` with these payload types (in offer order).
    Recording {
        port: u16,
        payload_types: Vec<u8>,
    },
    Inactive {
        reason: InactiveReason,
        payload_types: Vec<u8>,
    },
    Rejected {
        reason: RejectReason,
    },
}

/// One stream of an answer, in offer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAnswer {
    pub index: usize,
    pub label: Option<String>,
    pub outcome: StreamOutcome,
}

/// An answer and, per offered stream, what it decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub description: SessionDescription,
    pub streams: Vec<StreamAnswer>,
}

/// The recording server's side of one SDP session: its origin (RFC 8866 §5.2) across the
/// offers of a dialog, and the codecs it accepts.
#[derive(Debug, Clone)]
pub struct SdpSession {
    session_id: u64,
    version: u64,
    address: IpAddr,
    codecs: Vec<Codec>,
    previous: Option<SessionDescription>,
}

impl SdpSession {
    /// A session answering from `address`, accepting every [`Codec`]. `session_id` is chosen
    /// by the caller (RFC 8866 §5.2 suggests an NTP timestamp; any unique number works).
    pub fn new(session_id: u64, address: IpAddr) -> SdpSession {
        SdpSession {
            session_id,
            version: 0,
            address,
            codecs: Codec::ALL.to_vec(),
            previous: None,
        }
    }

    /// Restricts the accepted codecs.
    pub fn with_codecs(mut self, codecs: &[Codec]) -> SdpSession {
        self.codecs = codecs.to_vec();
        self
    }

    /// The origin line of the last answer (or of the first, before any).
    pub fn origin(&self) -> Origin {
        let address_type = if self.address.is_ipv4() { "IP4" } else { "IP6" };
        Origin {
            username: "-".to_owned(),
            session_id: self.session_id.to_string(),
            session_version: self.version.to_string(),
            network_type: "IN".to_owned(),
            address_type: address_type.to_owned(),
            address: self.address.to_string(),
        }
    }

    /// Answers `offer`, with `ports[i]` for its `i`-th `m=` section.
    ///
    /// The answer has the offer's `m=` sections in the same order (RFC 3264 §6). The origin
    /// version is incremented when the answer differs from the previous one and kept when
    /// it is identical (RFC 3264 §8).
    pub fn answer(
        &mut self,
        offer: &SessionDescription,
        ports: &[LocalPort],
    ) -> Result<Answer, SdpError> {
        if ports.len() != offer.media.len() {
            return Err(SdpError::PortCountMismatch {
                offered: offer.media.len(),
                given: ports.len(),
            });
        }
        let mut media = Vec::with_capacity(offer.media.len());
        let mut streams = Vec::with_capacity(offer.media.len());
        for (index, (offered, port)) in offer.media.iter().zip(ports).enumerate() {
            let (section, outcome) =
                self.answer_section(offered, offer.media_direction(index), *port);
            media.push(section);
            streams.push(StreamAnswer {
                index,
                label: offered.label().map(str::to_owned),
                outcome,
            });
        }
        let mut description = self.description(media);
        if let Some(previous) = &self.previous
            && *previous != description
        {
            self.version = self.version.saturating_add(1);
            description.origin = Some(self.origin());
        }
        self.previous = Some(description.clone());
        Ok(Answer {
            description,
            streams,
        })
    }

    fn description(&self, media: Vec<MediaDescription>) -> SessionDescription {
        let origin = self.origin();
        SessionDescription {
            version: Some("0".to_owned()),
            connection: Some(Connection {
                network_type: origin.network_type.clone(),
                address_type: origin.address_type.clone(),
                address: origin.address.clone(),
            }),
            origin: Some(origin),
            session_name: Some("-".to_owned()),
            other_lines: vec![OtherLine {
                kind: 't',
                value: "0 0".to_owned(),
            }],
            attributes: Vec::new(),
            media,
        }
    }

    fn answer_section(
        &self,
        offered: &MediaDescription,
        offered_direction: MediaDirection,
        port: LocalPort,
    ) -> (MediaDescription, StreamOutcome) {
        let reject = |reason| {
            (
                rejected_section(offered),
                StreamOutcome::Rejected { reason },
            )
        };
        if offered.port == 0 {
            return reject(RejectReason::RejectedInOffer);
        }
        let protocol_supported = ["RTP/AVP", "RTP/AVPF"]
            .iter()
            .any(|supported| offered.protocol.eq_ignore_ascii_case(supported));
        if !offered.media.eq_ignore_ascii_case("audio") || !protocol_supported {
            return reject(RejectReason::UnsupportedMedia);
        }
        let accepted = self.common_formats(offered);
        if !accepted.iter().any(|(_, codec)| codec.carries_audio()) {
            return reject(RejectReason::NoCommonCodec);
        }
        let payload_types: Vec<u8> = accepted
            .iter()
            .map(|(payload_type, _)| *payload_type)
            .collect();

        // RFC 7866 §7.2 / RFC 3264 §6.1: a stream we record is answered recvonly; we never send,
        // so an offer that only wants to receive, or sends nothing, is answered inactive.
        let inactive_reason = match (port, offered_direction) {
            (_, MediaDirection::Inactive) => Some(InactiveReason::OfferInactive),
            (_, MediaDirection::ReceiveOnly) => Some(InactiveReason::OfferReceiveOnly),
            (LocalPort::NotReady, _) => Some(InactiveReason::NotReady),
            (LocalPort::Ready(_), _) => None,
        };
        let local_port = match port {
            LocalPort::Ready(port) => Some(port),
            LocalPort::NotReady => None,
        };

        let mut attributes = Vec::new();
        for (payload_type, codec) in &accepted {
            attributes.push(Attribute::RtpMap(codec.rtpmap(*payload_type)));
            if let Some(parameters) = offered.fmtp(&payload_type.to_string()) {
                attributes.push(Attribute::Fmtp {
                    format: payload_type.to_string(),
                    parameters: parameters.to_owned(),
                });
            }
        }
        if let Some(milliseconds) = offered.ptime() {
            attributes.push(Attribute::Ptime(milliseconds));
        }
        let direction = match inactive_reason {
            Some(_) => MediaDirection::Inactive,
            None => MediaDirection::ReceiveOnly,
        };
        attributes.push(Attribute::Direction(direction));
        if let Some(label) = offered.label() {
            attributes.push(Attribute::Label(label.to_owned()));
        }
        // RFC 7866 §8.1.1: RTCP is REQUIRED. RTCP shares the RTP port when rtcp-mux is offered
        // (RFC 5761 §5.1.1), else it is the next port (RFC 3605).
        if let Some(port) = local_port {
            if offered.has_rtcp_mux() {
                attributes.push(Attribute::RtcpMux);
            } else if let Some(rtcp_port) = port.checked_add(1) {
                attributes.push(Attribute::Rtcp(RtcpAddress {
                    port: rtcp_port,
                    connection: None,
                }));
            }
        }

        let section = MediaDescription {
            media: offered.media.clone(),
            port: local_port.unwrap_or(PLACEHOLDER_PORT),
            port_count: None,
            protocol: offered.protocol.clone(),
            formats: payload_types.iter().map(u8::to_string).collect(),
            connection: None,
            other_lines: Vec::new(),
            attributes,
        };
        let outcome = match (inactive_reason, local_port) {
            (None, Some(port)) => StreamOutcome::Recording {
                port,
                payload_types,
            },
            (Some(reason), _) => StreamOutcome::Inactive {
                reason,
                payload_types,
            },
            (None, None) => StreamOutcome::Inactive {
                reason: InactiveReason::NotReady,
                payload_types,
            },
        };
        (section, outcome)
    }

    /// The offered payload types we accept, in offer order, each with its codec.
    fn common_formats(&self, offered: &MediaDescription) -> Vec<(u8, Codec)> {
        offered
            .formats
            .iter()
            .filter_map(|format| {
                let payload_type: u8 = format.parse().ok().filter(|pt| *pt <= 127)?;
                let rtpmap = offered.rtpmap(payload_type);
                let codec = self
                    .codecs
                    .iter()
                    .find(|codec| codec.matches(payload_type, rtpmap))?;
                Some((payload_type, *codec))
            })
            .collect()
    }
}

/// A rejected section: port 0, the offered formats (RFC 3264 §6), and the label kept so the
/// answer still names the stream it refuses.
fn rejected_section(offered: &MediaDescription) -> MediaDescription {
    let mut attributes = Vec::new();
    if let Some(label) = offered.label() {
        attributes.push(Attribute::Label(label.to_owned()));
    }
    MediaDescription {
        media: offered.media.clone(),
        port: 0,
        port_count: None,
        protocol: offered.protocol.clone(),
        formats: offered.formats.clone(),
        connection: None,
        other_lines: Vec::new(),
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const OFFER: &[u8] = b"v=0\r\no=SRC 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
        m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendonly\r\na=label:1\r\n\
        m=audio 20002 RTP/AVP 96 18\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:18 G729/8000\r\na=rtcp-mux\r\na=sendonly\r\na=label:2\r\n\
        m=audio 20004 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\na=sendonly\r\na=label:3\r\n\
        m=video 20006 RTP/AVP 98\r\na=rtpmap:98 H264/90000\r\na=sendonly\r\na=label:4\r\n";

    fn session() -> SdpSession {
        SdpSession::new(42, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)))
    }

    fn ports(count: usize) -> Vec<LocalPort> {
        (0..count)
            .map(|i| LocalPort::Ready(30_000 + 2 * i as u16))
            .collect()
    }

    #[test]
    fn answers_each_recorded_stream_recvonly_with_label_and_rtcp() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(OFFER)?;
        let answer = session().answer(&offer, &ports(4))?;
        let first = &answer.description.media[0];
        assert_eq!(first.port, 30_000);
        assert_eq!(first.formats, ["0", "101"]);
        assert_eq!(
            first.declared_direction(),
            Some(MediaDirection::ReceiveOnly)
        );
        assert_eq!(first.label(), Some("1"));
        assert_eq!(first.rtcp().map(|rtcp| rtcp.port), Some(30_001));
        assert_eq!(first.fmtp("101"), Some("0-16"));
        Ok(())
    }

    #[test]
    fn answers_rtcp_mux_when_offered() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(OFFER)?;
        let answer = session().answer(&offer, &ports(4))?;
        let second = &answer.description.media[1];
        assert_eq!(second.formats, ["96"]);
        assert!(second.has_rtcp_mux());
        assert_eq!(second.rtcp(), None);
        Ok(())
    }

    #[test]
    fn rejects_streams_without_common_codec_and_video_with_port_zero() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(OFFER)?;
        let answer = session().answer(&offer, &ports(4))?;
        assert_eq!(answer.description.media.len(), 4);
        assert_eq!(answer.description.media[2].port, 0);
        assert_eq!(answer.description.media[3].port, 0);
        assert_eq!(
            answer.streams[2].outcome,
            StreamOutcome::Rejected {
                reason: RejectReason::NoCommonCodec
            }
        );
        assert_eq!(
            answer.streams[3].outcome,
            StreamOutcome::Rejected {
                reason: RejectReason::UnsupportedMedia
            }
        );
        Ok(())
    }

    #[test]
    fn telephone_event_alone_is_no_common_codec() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(
            b"v=0\r\nm=audio 1 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        )?;
        let answer = session().answer(&offer, &[LocalPort::Ready(4000)])?;
        assert_eq!(answer.description.media[0].port, 0);
        Ok(())
    }

    #[test]
    fn not_ready_and_inactive_offers_are_answered_inactive() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(
            b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=sendonly\r\nm=audio 3 RTP/AVP 0\r\na=inactive\r\n",
        )?;
        let answer = session().answer(&offer, &[LocalPort::NotReady, LocalPort::Ready(4000)])?;
        let [not_ready, paused] = answer.description.media.as_slice() else {
            return Err(SdpError::Empty);
        };
        assert_eq!(
            (not_ready.port, not_ready.declared_direction()),
            (PLACEHOLDER_PORT, Some(MediaDirection::Inactive))
        );
        assert_eq!(
            (paused.port, paused.declared_direction()),
            (4000, Some(MediaDirection::Inactive))
        );
        assert!(matches!(
            answer.streams[1].outcome,
            StreamOutcome::Inactive {
                reason: InactiveReason::OfferInactive,
                ..
            }
        ));
        Ok(())
    }

    #[test]
    fn origin_version_increments_only_when_the_answer_changes() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(OFFER)?;
        let mut session = session();
        let first = session.answer(&offer, &ports(4))?;
        let same = session.answer(&offer, &ports(4))?;
        assert_eq!(first.description, same.description);
        let mut changed_ports = ports(4);
        changed_ports[0] = LocalPort::NotReady;
        let changed = session.answer(&offer, &changed_ports)?;
        let version = |answer: &Answer| {
            answer
                .description
                .origin
                .as_ref()
                .map(|o| o.session_version.clone())
        };
        assert_eq!(version(&first).as_deref(), Some("0"));
        assert_eq!(version(&changed).as_deref(), Some("1"));
        Ok(())
    }

    #[test]
    fn port_count_must_match_media_sections() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(OFFER)?;
        assert_eq!(
            session().answer(&offer, &ports(3)),
            Err(SdpError::PortCountMismatch {
                offered: 4,
                given: 3
            })
        );
        Ok(())
    }

    #[test]
    fn restricted_codec_list_is_honoured() -> Result<(), SdpError> {
        let offer = SessionDescription::parse(b"v=0\r\nm=audio 1 RTP/AVP 0 8\r\n")?;
        let answer = session()
            .with_codecs(&[Codec::Pcma])
            .answer(&offer, &[LocalPort::Ready(4000)])?;
        assert_eq!(answer.description.media[0].formats, ["8"]);
        Ok(())
    }
}
