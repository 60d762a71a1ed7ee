//! RTCP compound packets (RFC 3550 §6): enough to read SSRCs, sender-report timestamps,
//! SDES CNAMEs and BYE. Zero-copy; every length is checked before use.
//!
//! ```text
//!  0                   1                   2                   3
//! |V=2|P|    RC   |      PT       |             length            |  (RFC 3550 §6.4.1)
//! ```

use crate::RtpError;

pub const SENDER_REPORT: u8 = 200;
pub const RECEIVER_REPORT: u8 = 201;
pub const SOURCE_DESCRIPTION: u8 = 202;
pub const GOODBYE: u8 = 203;
pub const APPLICATION: u8 = 204;

/// Length of one report block (RFC 3550 §6.4.1).
const REPORT_BLOCK_LEN: usize = 24;

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let quad = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

/// A compound RTCP packet whose framing (version, lengths, padding) has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    bytes: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Checks the framing of every packet in the datagram (RFC 3550 §6.1 and the validity
    /// checks of Appendix A.2: version 2 everywhere, lengths that add up to the datagram,
    /// padding only on the last packet). Bodies are checked when iterated. Reduced-size
    /// RTCP (RFC 5506) is accepted: the first packet need not be SR or RR.
    pub fn parse(bytes: &'a [u8]) -> Result<Compound<'a>, RtpError> {
        if bytes.len() < 4 {
            return Err(RtpError::TooShort {
                len: bytes.len(),
                needed: 4,
            });
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let (header, packet_len) = frame(rest)?;
            if header.padding && packet_len != rest.len() {
                return Err(RtpError::RtcpPaddingNotLast);
            }
            rest = rest.get(packet_len..).unwrap_or(&[]);
        }
        Ok(Compound { bytes })
    }

    /// The packets, in order. Each item is the packet or why its body is malformed.
    pub fn packets(&self) -> Packets<'a> {
        Packets { rest: self.bytes }
    }
}

#[derive(Debug, Clone, Copy)]
struct Header {
    padding: bool,
    count: u8,
    packet_type: u8,
}

/// Reads one packet header; returns it and the packet's total length in bytes.
fn frame(bytes: &[u8]) -> Result<(Header, usize), RtpError> {
    let &[first, packet_type, high, low, ..] = bytes else {
        return Err(RtpError::TooShort {
            len: bytes.len(),
            needed: 4,
        });
    };
    let version = first >> 6;
    if version != 2 {
        return Err(RtpError::Version(version));
    }
    let words = u16::from_be_bytes([high, low]);
    // §6.4.1: "The length of this RTCP packet in 32-bit words minus one, including the
    // header and any padding."
    let packet_len = (usize::from(words) + 1) * 4;
    if packet_len > bytes.len() {
        return Err(RtpError::RtcpLength { words });
    }
    Ok((
        Header {
            padding: first & 0x20 != 0,
            count: first & 0x1f,
            packet_type,
        },
        packet_len,
    ))
}

/// Iterator over the packets of a [`Compound`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (header, packet_len) = match frame(self.rest) {
            Ok(framed) => framed,
            Err(error) => {
                self.rest = &[];
                return Some(Err(error));
            }
        };
        let packet = self.rest.get(..packet_len).unwrap_or(&[]);
        self.rest = self.rest.get(packet_len..).unwrap_or(&[]);
        Some(Packet::parse(header, packet))
    }
}

/// One RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    SourceDescription(SourceDescription<'a>),
    Goodbye(Goodbye<'a>),
    Application(Application<'a>),
    /// A packet type this parser does not read (e.g. RTPFB/PSFB of RFC 4585).
    Other {
        packet_type: u8,
        body: &'a [u8],
    },
}

/// RFC 3550 §6.4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    pub ssrc: u32,
    /// NTP timestamp, seconds in the high 32 bits and fraction in the low 32.
    pub ntp_timestamp: u64,
    /// The RTP timestamp that corresponds to `ntp_timestamp`.
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub reports: ReportBlocks<'a>,
}

/// RFC 3550 §6.4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    pub ssrc: u32,
    pub reports: ReportBlocks<'a>,
}

/// The report blocks of an SR or RR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    bytes: &'a [u8],
}

/// One report block: what the sender of the report received from `ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// Cumulative number of packets lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    pub highest_extended_sequence: u32,
    pub jitter: u32,
    pub last_sender_report: u32,
    pub delay_since_last_sender_report: u32,
}

impl ReportBlocks<'_> {
    pub fn len(&self) -> usize {
        self.bytes.len() / REPORT_BLOCK_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + '_ {
        self.bytes.chunks_exact(REPORT_BLOCK_LEN).map(|block| {
            let word = |at| be_u32(block, at).unwrap_or(0);
            let loss = word(4);
            // Sign-extend the 24-bit cumulative count.
            let cumulative_lost = ((loss << 8) as i32) >> 8;
            ReportBlock {
                ssrc: word(0),
                fraction_lost: (loss >> 24) as u8,
                cumulative_lost,
                highest_extended_sequence: word(8),
                jitter: word(12),
                last_sender_report: word(16),
                delay_since_last_sender_report: word(20),
            }
        })
    }
}

/// RFC 3550 §6.5: chunks of (SSRC/CSRC, items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    chunk_count: u8,
    body: &'a [u8],
}

/// One SDES chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescriptionChunk<'a> {
    pub ssrc: u32,
    items: &'a [u8],
}

/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

impl<'a> SourceDescription<'a> {
    /// The chunks, in order. Parsing was checked when the packet was read.
    pub fn chunks(&self) -> impl Iterator<Item = SourceDescriptionChunk<'a>> + 'a {
        let mut rest = self.body;
        let mut remaining = self.chunk_count;
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            remaining -= 1;
            let (chunk, after) = sdes_chunk(rest).ok()?;
            rest = after;
            Some(chunk)
        })
    }
}

impl<'a> SourceDescriptionChunk<'a> {
    /// The (type, value) items of the chunk, without the terminating null item.
    pub fn items(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let (&kind, after) = rest.split_first()?;
            if kind == 0 {
                return None;
            }
            let (&len, after) = after.split_first()?;
            let value = after.get(..usize::from(len))?;
            rest = after.get(usize::from(len)..)?;
            Some((kind, value))
        })
    }

    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|(kind, _)| *kind == SDES_CNAME)
            .map(|(_, value)| value)
    }
}

/// Splits one SDES chunk off `bytes`: SSRC, items up to a null item, padding to 32 bits.
fn sdes_chunk(bytes: &[u8]) -> Result<(SourceDescriptionChunk<'_>, &[u8]), RtpError> {
    let malformed = RtpError::RtcpBody {
        packet_type: SOURCE_DESCRIPTION,
    };
    let ssrc = be_u32(bytes, 0).ok_or(malformed)?;
    let mut at = 4;
    loop {
        let kind = *bytes.get(at).ok_or(malformed)?;
        if kind == 0 {
            // §6.5: "The list of items in each chunk MUST be terminated by one or more null
            // octets ... followed by null octets to the next 32-bit boundary".
            let end = (at + 4) & !3;
            let after = bytes.get(end..).ok_or(malformed)?;
            let items = bytes.get(4..at).ok_or(malformed)?;
            return Ok((SourceDescriptionChunk { ssrc, items }, after));
        }
        let len = *bytes.get(at + 1).ok_or(malformed)?;
        at += 2 + usize::from(len);
    }
}

/// RFC 3550 §6.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goodbye<'a> {
    ssrcs: &'a [u8],
    pub reason: Option<&'a [u8]>,
}

impl<'a> Goodbye<'a> {
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs
            .chunks_exact(4)
            .map(|quad| u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
    }
}

/// RFC 3550 §6.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Application<'a> {
    pub subtype: u8,
    pub ssrc: u32,
    pub name: [u8; 4],
    pub data: &'a [u8],
}

impl<'a> Packet<'a> {
    fn parse(header: Header, packet: &'a [u8]) -> Result<Packet<'a>, RtpError> {
        let malformed = RtpError::RtcpBody {
            packet_type: header.packet_type,
        };
        // Strip the padding of the last packet (§6.4.1: the last octet counts the padding).
        let mut body_end = packet.len();
        if header.padding {
            let count = usize::from(packet.last().copied().unwrap_or(0));
            if count == 0 || count > packet.len() - 4 {
                return Err(malformed);
            }
            body_end -= count;
        }
        let body = packet.get(4..body_end).ok_or(malformed)?;
        let count = usize::from(header.count);
        match header.packet_type {
            SENDER_REPORT => {
                let reports = body
                    .get(24..24 + count * REPORT_BLOCK_LEN)
                    .ok_or(malformed)?;
                let word = |at| be_u32(body, at).ok_or(malformed);
                Ok(Packet::SenderReport(SenderReport {
                    ssrc: word(0)?,
                    ntp_timestamp: (u64::from(word(4)?) << 32) | u64::from(word(8)?),
                    rtp_timestamp: word(12)?,
                    packet_count: word(16)?,
                    octet_count: word(20)?,
                    reports: ReportBlocks { bytes: reports },
                }))
            }
            RECEIVER_REPORT => {
                let reports = body.get(4..4 + count * REPORT_BLOCK_LEN).ok_or(malformed)?;
                Ok(Packet::ReceiverReport(ReceiverReport {
                    ssrc: be_u32(body, 0).ok_or(malformed)?,
                    reports: ReportBlocks { bytes: reports },
                }))
            }
            SOURCE_DESCRIPTION => {
                let mut rest = body;
                for _ in 0..count {
                    rest = sdes_chunk(rest)?.1;
                }
                Ok(Packet::SourceDescription(SourceDescription {
                    chunk_count: header.count,
                    body,
                }))
            }
            GOODBYE => {
                let ssrcs = body.get(..count * 4).ok_or(malformed)?;
                let after = body.get(count * 4..).unwrap_or(&[]);
                let reason = match after.split_first() {
                    Some((&len, text)) => Some(text.get(..usize::from(len)).ok_or(malformed)?),
                    None => None,
                };
                Ok(Packet::Goodbye(Goodbye { ssrcs, reason }))
            }
            APPLICATION => {
                let ssrc = be_u32(body, 0).ok_or(malformed)?;
                let name = body.get(4..8).ok_or(malformed)?;
                Ok(Packet::Application(Application {
                    subtype: header.count,
                    ssrc,
                    name: [name[0], name[1], name[2], name[3]],
                    data: body.get(8..).unwrap_or(&[]),
                }))
            }
            packet_type => Ok(Packet::Other { packet_type, body }),
        }
    }

    /// The SSRC of the packet's sender (SR, RR, APP), or the first source it names
    /// (SDES, BYE).
    pub fn ssrc(&self) -> Option<u32> {
        match self {
            Packet::SenderReport(report) => Some(report.ssrc),
            Packet::ReceiverReport(report) => Some(report.ssrc),
            Packet::SourceDescription(description) => {
                description.chunks().next().map(|chunk| chunk.ssrc)
            }
            Packet::Goodbye(goodbye) => goodbye.ssrcs().next(),
            Packet::Application(application) => Some(application.ssrc),
            Packet::Other { body, .. } => be_u32(body, 0),
        }
    }
}
