//! The parsed form of a session description (RFC 8866 §5) and its typed attributes.

use std::fmt;

/// The direction attribute of a session or media section (RFC 8866 §6.7, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaDirection {
    SendReceive,
    SendOnly,
    ReceiveOnly,
    Inactive,
}

impl MediaDirection {
    /// The attribute name as it appears on the wire (`a=sendrecv` …).
    pub fn as_str(self) -> &'static str {
        match self {
            MediaDirection::SendReceive => "sendrecv",
            MediaDirection::SendOnly => "sendonly",
            MediaDirection::ReceiveOnly => "recvonly",
            MediaDirection::Inactive => "inactive",
        }
    }

    pub fn parse(name: &str) -> Option<MediaDirection> {
        match name.to_ascii_lowercase().as_str() {
            "sendrecv" => Some(MediaDirection::SendReceive),
            "sendonly" => Some(MediaDirection::SendOnly),
            "recvonly" => Some(MediaDirection::ReceiveOnly),
            "inactive" => Some(MediaDirection::Inactive),
            _ => None,
        }
    }
}

impl fmt::Display for MediaDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a=record` (RFC 7866 §6.1): the recording state a recording-aware agent is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordIndication {
    On,
    Off,
    Paused,
}

impl RecordIndication {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordIndication::On => "on",
            RecordIndication::Off => "off",
            RecordIndication::Paused => "paused",
        }
    }

    pub fn parse(value: &str) -> Option<RecordIndication> {
        match value.trim().to_ascii_lowercase().as_str() {
            "on" => Some(RecordIndication::On),
            "off" => Some(RecordIndication::Off),
            "paused" => Some(RecordIndication::Paused),
            _ => None,
        }
    }
}

/// `a=recordpref` (RFC 7866 §6.1): what a recording-aware participant asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordPreference {
    On,
    Off,
    Pause,
    NoPreference,
}

impl RecordPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordPreference::On => "on",
            RecordPreference::Off => "off",
            RecordPreference::Pause => "pause",
            RecordPreference::NoPreference => "nopreference",
        }
    }

    pub fn parse(value: &str) -> Option<RecordPreference> {
        match value.trim().to_ascii_lowercase().as_str() {
            "on" => Some(RecordPreference::On),
            "off" => Some(RecordPreference::Off),
            "pause" => Some(RecordPreference::Pause),
            "nopreference" => Some(RecordPreference::NoPreference),
            _ => None,
        }
    }
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]` (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding_name: String,
    pub clock_rate: u32,
    pub encoding_parameters: Option<String>,
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAddress {
    pub port: u16,
    /// The rest of the value (`IN IP4 192.0.2.1`), when given.
    pub connection: Option<String>,
}

/// One `a=` line. Attributes we act on are typed; everything else is kept as it came
/// (`Other`), and so is a known attribute whose value does not parse, so nothing is lost
/// when the description is written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    RtpMap(RtpMap),
    /// `a=fmtp:<format> <parameters>` (RFC 8866 §6.15).
    Fmtp {
        format: String,
        parameters: String,
    },
    /// `a=label:<label>` (RFC 4574), the SIPREC stream label (RFC 7866 §7.1.1).
    Label(String),
    Direction(MediaDirection),
    Rtcp(RtcpAddress),
    /// `a=rtcp-mux` (RFC 5761).
    RtcpMux,
    /// `a=ptime:<milliseconds>` (RFC 8866 §6.4).
    Ptime(u32),
    Record(RecordIndication),
    RecordPreference(RecordPreference),
    Other {
        name: String,
        value: Option<String>,
    },
}

impl Attribute {
    /// Reads one attribute from the text after `a=`.
    pub fn parse(text: &str) -> Attribute {
        let (name, value) = match text.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        let typed = match (name.to_ascii_lowercase().as_str(), value) {
            ("rtpmap", Some(value)) => parse_rtpmap(value).map(Attribute::RtpMap),
            ("fmtp", Some(value)) => {
                value
                    .split_once(' ')
                    .map(|(format, parameters)| Attribute::Fmtp {
                        format: format.to_owned(),
                        parameters: parameters.trim().to_owned(),
                    })
            }
            ("label", Some(value)) if !value.trim().is_empty() => {
                Some(Attribute::Label(value.trim().to_owned()))
            }
            ("rtcp", Some(value)) => parse_rtcp(value).map(Attribute::Rtcp),
            ("rtcp-mux", None) => Some(Attribute::RtcpMux),
            ("ptime", Some(value)) => value.trim().parse().ok().map(Attribute::Ptime),
            ("record", Some(value)) => RecordIndication::parse(value).map(Attribute::Record),
            ("recordpref", Some(value)) => {
                RecordPreference::parse(value).map(Attribute::RecordPreference)
            }
            (_, None) => MediaDirection::parse(name).map(Attribute::Direction),
            _ => None,
        };
        typed.unwrap_or_else(|| Attribute::Other {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        })
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::RtpMap(map) => {
                write!(
                    f,
                    "rtpmap:{} {}/{}",
                    map.payload_type, map.encoding_name, map.clock_rate
                )?;
                if let Some(parameters) = &map.encoding_parameters {
                    write!(f, "/{parameters}")?;
                }
                Ok(())
            }
            Attribute::Fmtp { format, parameters } => write!(f, "fmtp:{format} {parameters}"),
            Attribute::Label(label) => write!(f, "label:{label}"),
            Attribute::Direction(direction) => f.write_str(direction.as_str()),
            Attribute::Rtcp(rtcp) => match &rtcp.connection {
                Some(connection) => write!(f, "rtcp:{} {connection}", rtcp.port),
                None => write!(f, "rtcp:{}", rtcp.port),
            },
            Attribute::RtcpMux => f.write_str("rtcp-mux"),
            Attribute::Ptime(milliseconds) => write!(f, "ptime:{milliseconds}"),
            Attribute::Record(state) => write!(f, "record:{}", state.as_str()),
            Attribute::RecordPreference(preference) => {
                write!(f, "recordpref:{}", preference.as_str())
            }
            Attribute::Other {
                name,
                value: Some(value),
            } => write!(f, "{name}:{value}"),
            Attribute::Other { name, value: None } => f.write_str(name),
        }
    }
}

fn parse_rtpmap(value: &str) -> Option<RtpMap> {
    let (payload_type, encoding) = value.trim().split_once(' ')?;
    let mut pieces = encoding.trim().splitn(3, '/');
    let encoding_name = pieces.next().filter(|name| !name.is_empty())?.to_owned();
    let clock_rate = pieces.next()?.trim().parse().ok()?;
    Some(RtpMap {
        payload_type: payload_type.parse().ok().filter(|pt: &u8| *pt <= 127)?,
        encoding_name,
        clock_rate,
        encoding_parameters: pieces.next().map(|p| p.trim().to_owned()),
    })
}

fn parse_rtcp(value: &str) -> Option<RtcpAddress> {
    let value = value.trim();
    let (port, rest) = match value.split_once(' ') {
        Some((port, rest)) => (port, Some(rest.trim().to_owned())),
        None => (value, None),
    };
    Some(RtcpAddress {
        port: port.parse().ok()?,
        connection: rest.filter(|rest| !rest.is_empty()),
    })
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (RFC 8866 §5.2).
/// Session id and version are kept as text: RFC 8866 allows any digits, and real clients
/// send values wider than 64 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub network_type: String,
    pub address_type: String,
    pub address: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.network_type,
            self.address_type,
            self.address
        )
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub network_type: String,
    pub address_type: String,
    pub address: String,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.network_type, self.address_type, self.address
        )
    }
}

/// A line this crate does not interpret (`i=`, `b=`, `t=`, `k=` …), kept in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLine {
    pub kind: char,
    pub value: String,
}

/// One `m=` section (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `text`, `application` …
    pub media: String,
    pub port: u16,
    /// The `/<number of ports>` suffix, when given.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/AVPF`, `RTP/SAVP` …
    pub protocol: String,
    /// Payload types for RTP profiles, as text.
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    /// Lines other than `c=` and `a=`, in the order they came.
    pub other_lines: Vec<OtherLine>,
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// The first `a=label` of this section (RFC 4574).
    pub fn label(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Label(label) => Some(label.as_str()),
                _ => None,
            })
    }

    /// The direction attribute written in this section, if any.
    pub fn declared_direction(&self) -> Option<MediaDirection> {
        declared_direction(&self.attributes)
    }

    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::RtpMap(map) if map.payload_type == payload_type => Some(map),
                _ => None,
            })
    }

    pub fn fmtp(&self, format: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Fmtp {
                    format: f,
                    parameters,
                } if f == format => Some(parameters.as_str()),
                _ => None,
            })
    }

    pub fn has_rtcp_mux(&self) -> bool {
        self.attributes
            .iter()
            .any(|attribute| matches!(attribute, Attribute::RtcpMux))
    }

    pub fn rtcp(&self) -> Option<&RtcpAddress> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Rtcp(rtcp) => Some(rtcp),
                _ => None,
            })
    }

    pub fn ptime(&self) -> Option<u32> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Ptime(milliseconds) => Some(*milliseconds),
                _ => None,
            })
    }

    pub fn record(&self) -> Option<RecordIndication> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Record(state) => Some(*state),
                _ => None,
            })
    }

    pub fn record_preference(&self) -> Option<RecordPreference> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::RecordPreference(preference) => Some(*preference),
                _ => None,
            })
    }
}

pub(crate) fn declared_direction(attributes: &[Attribute]) -> Option<MediaDirection> {
    attributes.iter().find_map(|attribute| match attribute {
        Attribute::Direction(direction) => Some(*direction),
        _ => None,
    })
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `v=`; RFC 8866 knows only `0`. `None` when a tolerant parse found none.
    pub version: Option<String>,
    pub origin: Option<Origin>,
    /// `s=`; `None` when missing.
    pub session_name: Option<String>,
    pub connection: Option<Connection>,
    /// Session-level lines other than `v=`, `o=`, `s=`, `c=` and `a=` (`t=`, `b=` …), in order.
    pub other_lines: Vec<OtherLine>,
    pub attributes: Vec<Attribute>,
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// The direction of media section `index`: its own attribute, else the session-level
    /// one, else `sendrecv` (RFC 8866 §6.7: "sendrecv" is the default).
    pub fn media_direction(&self, index: usize) -> MediaDirection {
        self.media
            .get(index)
            .and_then(MediaDescription::declared_direction)
            .or_else(|| declared_direction(&self.attributes))
            .unwrap_or(MediaDirection::SendReceive)
    }

    /// The session-level `a=record`, if any (RFC 7866 §6.1 allows both levels).
    pub fn record(&self) -> Option<RecordIndication> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Record(state) => Some(*state),
                _ => None,
            })
    }

    pub fn record_preference(&self) -> Option<RecordPreference> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::RecordPreference(preference) => Some(*preference),
                _ => None,
            })
    }

    /// The `a=label` of every media section, in order (`None` where a section has none).
    pub fn labels(&self) -> Vec<Option<&str>> {
        self.media.iter().map(MediaDescription::label).collect()
    }
}
