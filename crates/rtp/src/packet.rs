//! RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1).

use crate::RtpError;

/// The only RTP version (RFC 3550 §5.1: "The version defined by this specification is two").
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed RTP header.
pub const RTP_HEADER_LEN: usize = 12;

/// An RTP packet borrowed from the datagram it arrived in. Parsing copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    marker: bool,
    payload_type: u8,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
    csrc: &'a [u8],
    extension: Option<HeaderExtension<'a>>,
    padding_len: u8,
    payload: &'a [u8],
}

/// The RFC 3550 §5.3.1 header extension: a 16-bit profile-defined value and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// RFC 5761 §4: when RTP and RTCP share a port, a second byte in 192..=223 (RTCP packet
/// types 192–223) marks RTCP. Callers demultiplexing one port test this first.
pub fn looks_like_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram.get(1), Some(192..=223))
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let quad = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

impl<'a> RtpPacket<'a> {
    /// Parses one RTP packet. Checks, in order (RFC 3550 §5.1 and the validity checks of
    /// Appendix A.1): the 12-byte fixed header, version 2, the CSRC list (CC × 4 bytes),
    /// the extension header and its length, and the padding count in the last byte
    /// ("a count of how many padding octets should be ignored, including itself").
    pub fn parse(bytes: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let too_short = RtpError::TooShort {
            len: bytes.len(),
            needed: RTP_HEADER_LEN,
        };
        let (Some(&first), Some(&second)) = (bytes.first(), bytes.get(1)) else {
            return Err(too_short);
        };
        if bytes.len() < RTP_HEADER_LEN {
            return Err(too_short);
        }
        let version = first >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::Version(version));
        }
        let has_padding = first & 0x20 != 0;
        let has_extension = first & 0x10 != 0;
        let csrc_count = first & 0x0f;
        let sequence_number = be_u16(bytes, 2).ok_or(too_short)?;
        let timestamp = be_u32(bytes, 4).ok_or(too_short)?;
        let ssrc = be_u32(bytes, 8).ok_or(too_short)?;

        let mut offset = RTP_HEADER_LEN + 4 * usize::from(csrc_count);
        let csrc = bytes
            .get(RTP_HEADER_LEN..offset)
            .ok_or(RtpError::CsrcTruncated { count: csrc_count })?;

        let extension = if has_extension {
            let profile = be_u16(bytes, offset).ok_or(RtpError::ExtensionTruncated)?;
            let words = be_u16(bytes, offset + 2).ok_or(RtpError::ExtensionTruncated)?;
            let data_start = offset + 4;
            let data_end = data_start + 4 * usize::from(words);
            let data = bytes
                .get(data_start..data_end)
                .ok_or(RtpError::ExtensionTruncated)?;
            offset = data_end;
            Some(HeaderExtension { profile, data })
        } else {
            None
        };

        let available = bytes.len() - offset;
        let padding_len = if has_padding {
            let count = bytes.last().copied().unwrap_or(0);
            if count == 0 || usize::from(count) > available {
                return Err(RtpError::Padding { count, available });
            }
            count
        } else {
            0
        };
        let payload = bytes
            .get(offset..bytes.len() - usize::from(padding_len))
            .unwrap_or(&[]);

        Ok(RtpPacket {
            marker: second & 0x80 != 0,
            payload_type: second & 0x7f,
            sequence_number,
            timestamp,
            ssrc,
            csrc,
            extension,
            padding_len,
            payload,
        })
    }

    pub fn marker(&self) -> bool {
        self.marker
    }

    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    pub fn sequence_number(&self) -> u16 {
        self.sequence_number
    }

    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The contributing sources, in order (at most 15).
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.csrc
            .chunks_exact(4)
            .map(|quad| u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
    }

    pub fn csrc_count(&self) -> usize {
        self.csrc.len() / 4
    }

    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        self.extension
    }

    /// Padding octets removed from the end of the payload (0 when the P bit is clear).
    pub fn padding_len(&self) -> u8 {
        self.padding_len
    }

    /// The payload, without header, CSRCs, extension or padding.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(first: u8, second: u8) -> Vec<u8> {
        let mut bytes = vec![
            first, second, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xde, 0xad, 0xbe, 0xef,
        ];
        bytes.extend_from_slice(&[0xaa; 4]);
        bytes
    }

    #[test]
    fn parses_fixed_header_fields() -> Result<(), RtpError> {
        let bytes = header(0x80, 0x80 | 8);
        let packet = RtpPacket::parse(&bytes)?;
        assert!(packet.marker());
        assert_eq!(packet.payload_type(), 8);
        assert_eq!(packet.sequence_number(), 0x1234);
        assert_eq!(packet.timestamp(), 320);
        assert_eq!(packet.ssrc(), 0xdead_beef);
        assert_eq!(packet.payload(), &[0xaa; 4]);
        assert_eq!(packet.csrc_count(), 0);
        Ok(())
    }

    #[test]
    fn rejects_version_one() {
        assert_eq!(
            RtpPacket::parse(&header(0x40, 0)),
            Err(RtpError::Version(1))
        );
    }

    #[test]
    fn rejects_eleven_bytes() {
        assert!(matches!(
            RtpPacket::parse(&[0x80; 11]),
            Err(RtpError::TooShort { len: 11, .. })
        ));
    }

    #[test]
    fn reads_csrcs_and_extension_then_payload() -> Result<(), RtpError> {
        let mut bytes = vec![0x80 | 0x10 | 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
        bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        bytes.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
        bytes.extend_from_slice(b"audio");
        let packet = RtpPacket::parse(&bytes)?;
        assert_eq!(packet.csrcs().collect::<Vec<_>>(), vec![1, 2]);
        let extension = packet.extension().ok_or(RtpError::ExtensionTruncated)?;
        assert_eq!(extension.profile, 0xbede);
        assert_eq!(extension.data, &[1, 2, 3, 4]);
        assert_eq!(packet.payload(), b"audio");
        Ok(())
    }

    #[test]
    fn truncated_csrc_list_is_refused() {
        assert_eq!(
            RtpPacket::parse(&header(0x80 | 3, 0)),
            Err(RtpError::CsrcTruncated { count: 3 })
        );
    }

    #[test]
    fn extension_longer_than_packet_is_refused() {
        let mut bytes = header(0x90, 0);
        bytes.truncate(12);
        bytes.extend_from_slice(&[0xbe, 0xde, 0, 9]);
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::ExtensionTruncated));
    }

    #[test]
    fn padding_is_removed_from_payload() -> Result<(), RtpError> {
        let mut bytes = header(0xa0, 0);
        bytes.extend_from_slice(&[0, 0, 3]);
        let packet = RtpPacket::parse(&bytes)?;
        assert_eq!(packet.padding_len(), 3);
        assert_eq!(packet.payload(), &[0xaa; 4]);
        Ok(())
    }

    #[test]
    fn zero_or_oversized_padding_is_refused() {
        let mut zero = header(0xa0, 0);
        zero.push(0);
        assert!(matches!(
            RtpPacket::parse(&zero),
            Err(RtpError::Padding { count: 0, .. })
        ));
        let mut oversized = header(0xa0, 0);
        oversized.push(200);
        assert!(matches!(
            RtpPacket::parse(&oversized),
            Err(RtpError::Padding { count: 200, .. })
        ));
    }

    #[test]
    fn rtcp_is_recognised_on_a_muxed_port() {
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6]));
        assert!(!looks_like_rtcp(&[0x80, 0, 0, 6]));
        assert!(!looks_like_rtcp(&[0x80]));
    }
}
