//! Tolerant, bounded SDP reader (RFC 8866 §5) and the writer that puts it back on the wire.

use std::fmt;

use crate::SdpError;
use crate::types::{
    Attribute, Connection, MediaDescription, Origin, OtherLine, SessionDescription,
};

/// Largest session description accepted, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;
/// Most `m=` sections accepted in one description.
pub const MAX_MEDIA_SECTIONS: usize = 64;
/// Most `a=` lines accepted at session level, and in each media section.
pub const MAX_ATTRIBUTES_PER_SECTION: usize = 256;

impl SessionDescription {
    /// Reads a session description.
    ///
    /// Tolerant of what real recording clients send: LF or CRLF line ends, blank lines,
    /// spaces around lines, a missing `v=`/`o=`/`s=`, unknown line types and attributes
    /// (kept). Bounded: at most [`MAX_DESCRIPTION_BYTES`], [`MAX_MEDIA_SECTIONS`] and
    /// [`MAX_ATTRIBUTES_PER_SECTION`].
    pub fn parse(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
        if bytes.len() > MAX_DESCRIPTION_BYTES {
            return Err(SdpError::TooLarge {
                size: bytes.len(),
                limit: MAX_DESCRIPTION_BYTES,
            });
        }
        let text = String::from_utf8_lossy(bytes);
        let mut description = SessionDescription {
            version: None,
            origin: None,
            session_name: None,
            connection: None,
            other_lines: Vec::new(),
            attributes: Vec::new(),
            media: Vec::new(),
        };
        let mut saw_line = false;
        for (index, raw_line) in text.split('\n').enumerate() {
            let line_number = index + 1;
            let line = raw_line.trim();
            if line.is_empty() {
                continue;
            }
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_alphabetic() {
                return Err(SdpError::MalformedLine { line: line_number });
            }
            saw_line = true;
            let kind = char::from(bytes[0]);
            let value = line[2..].trim();
            match description.media.last_mut() {
                None => apply_session_line(&mut description, kind, value, line_number)?,
                Some(media) => apply_media_line(media, kind, value, line_number)?,
            }
            if kind == 'm' {
                if description.media.len() >= MAX_MEDIA_SECTIONS {
                    return Err(SdpError::TooManyMediaSections {
                        limit: MAX_MEDIA_SECTIONS,
                    });
                }
                description
                    .media
                    .push(parse_media_line(value, line_number)?);
            }
        }
        if !saw_line {
            return Err(SdpError::Empty);
        }
        Ok(description)
    }

    /// The description as wire bytes, CRLF line ends, fields in RFC 8866 §5 order.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

fn apply_session_line(
    description: &mut SessionDescription,
    kind: char,
    value: &str,
    line_number: usize,
) -> Result<(), SdpError> {
    match kind {
        'v' => description.version = Some(value.to_owned()),
        'o' => {
            description.origin =
                Some(parse_origin(value).ok_or(SdpError::InvalidOrigin { line: line_number })?)
        }
        's' => description.session_name = Some(value.to_owned()),
        'c' => {
            description.connection = Some(
                parse_connection(value).ok_or(SdpError::InvalidConnection { line: line_number })?,
            )
        }
        'a' => push_attribute(&mut description.attributes, value)?,
        'm' => {}
        _ => description.other_lines.push(OtherLine {
            kind,
            value: value.to_owned(),
        }),
    }
    Ok(())
}

fn apply_media_line(
    media: &mut MediaDescription,
    kind: char,
    value: &str,
    line_number: usize,
) -> Result<(), SdpError> {
    match kind {
        'c' => {
            media.connection = Some(
                parse_connection(value).ok_or(SdpError::InvalidConnection { line: line_number })?,
            )
        }
        'a' => push_attribute(&mut media.attributes, value)?,
        'm' => {}
        _ => media.other_lines.push(OtherLine {
            kind,
            value: value.to_owned(),
        }),
    }
    Ok(())
}

fn push_attribute(attributes: &mut Vec<Attribute>, value: &str) -> Result<(), SdpError> {
    if attributes.len() >= MAX_ATTRIBUTES_PER_SECTION {
        return Err(SdpError::TooManyAttributes {
            limit: MAX_ATTRIBUTES_PER_SECTION,
        });
    }
    attributes.push(Attribute::parse(value));
    Ok(())
}

fn parse_origin(value: &str) -> Option<Origin> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [
        username,
        session_id,
        session_version,
        network_type,
        address_type,
        address,
    ] = fields.as_slice()
    else {
        return None;
    };
    Some(Origin {
        username: (*username).to_owned(),
        session_id: (*session_id).to_owned(),
        session_version: (*session_version).to_owned(),
        network_type: (*network_type).to_owned(),
        address_type: (*address_type).to_owned(),
        address: (*address).to_owned(),
    })
}

fn parse_connection(value: &str) -> Option<Connection> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [network_type, address_type, address] = fields.as_slice() else {
        return None;
    };
    Some(Connection {
        network_type: (*network_type).to_owned(),
        address_type: (*address_type).to_owned(),
        address: (*address).to_owned(),
    })
}

fn parse_media_line(value: &str, line_number: usize) -> Result<MediaDescription, SdpError> {
    let invalid = SdpError::InvalidMedia { line: line_number };
    let mut fields = value.split_whitespace();
    let (Some(media), Some(port_field), Some(protocol)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(invalid);
    };
    let (port, port_count) = match port_field.split_once('/') {
        Some((port, count)) => (port, Some(count.parse().map_err(|_| invalid.clone())?)),
        None => (port_field, None),
    };
    Ok(MediaDescription {
        media: media.to_owned(),
        port: port.parse().map_err(|_| invalid.clone())?,
        port_count,
        protocol: protocol.to_owned(),
        formats: fields.map(str::to_owned).collect(),
        connection: None,
        other_lines: Vec::new(),
        attributes: Vec::new(),
    })
}

/// RFC 8866 §5: `i=`, `u=`, `e=`, `p=` come before `c=`; `b=`, `t=`, `r=`, `z=`, `k=` after.
fn precedes_connection(kind: char) -> bool {
    matches!(kind, 'i' | 'u' | 'e' | 'p')
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v={}\r\n", self.version.as_deref().unwrap_or("0"))?;
        if let Some(origin) = &self.origin {
            write!(f, "o={origin}\r\n")?;
        }
        write!(f, "s={}\r\n", self.session_name.as_deref().unwrap_or("-"))?;
        for line in self
            .other_lines
            .iter()
            .filter(|line| precedes_connection(line.kind))
        {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for line in self
            .other_lines
            .iter()
            .filter(|line| !precedes_connection(line.kind))
        {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.protocol)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        for line in self.other_lines.iter().filter(|line| line.kind == 'i') {
            write!(f, "i={}\r\n", line.value)?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for line in self.other_lines.iter().filter(|line| line.kind != 'i') {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{MediaDirection, RecordIndication, RecordPreference};

    const OFFER: &str = "v=0\r\no=SRC 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
        m=audio 12240 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
        a=sendonly\r\na=label:1\r\na=rtcp:12241\r\na=ptime:20\r\na=x-vendor:thing\r\n";

    #[test]
    fn parses_media_sections_and_typed_attributes() -> Result<(), SdpError> {
        let description = SessionDescription::parse(OFFER.as_bytes())?;
        assert_eq!(description.media.len(), 1);
        let media = &description.media[0];
        assert_eq!((media.port, media.protocol.as_str()), (12240, "RTP/AVP"));
        assert_eq!(media.formats, ["0", "8", "101"]);
        assert_eq!(media.label(), Some("1"));
        assert_eq!(media.declared_direction(), Some(MediaDirection::SendOnly));
        assert_eq!(
            media.rtpmap(101).map(|map| map.encoding_name.as_str()),
            Some("telephone-event")
        );
        assert_eq!(media.fmtp("101"), Some("0-16"));
        assert_eq!(media.rtcp().map(|rtcp| rtcp.port), Some(12241));
        assert_eq!(media.ptime(), Some(20));
        assert!(media.attributes.contains(&Attribute::Other {
            name: "x-vendor".into(),
            value: Some("thing".into())
        }));
        Ok(())
    }

    #[test]
    fn writes_back_what_it_read() -> Result<(), SdpError> {
        let description = SessionDescription::parse(OFFER.as_bytes())?;
        assert_eq!(description.to_string(), OFFER);
        Ok(())
    }

    #[test]
    fn accepts_lf_line_ends_and_trailing_spaces() -> Result<(), SdpError> {
        let description = SessionDescription::parse(
            b"v=0\no=- 1 1 IN IP4 0.0.0.0 \ns=-\nm=audio 9 RTP/AVP 8\na=ptime:20 \n",
        )?;
        assert_eq!(description.media[0].ptime(), Some(20));
        Ok(())
    }

    #[test]
    fn missing_direction_means_sendrecv_and_session_level_direction_is_inherited()
    -> Result<(), SdpError> {
        let plain = SessionDescription::parse(b"v=0\r\nm=audio 9 RTP/AVP 0\r\n")?;
        assert_eq!(plain.media_direction(0), MediaDirection::SendReceive);
        let inherited = SessionDescription::parse(b"v=0\r\na=inactive\r\nm=audio 9 RTP/AVP 0\r\n")?;
        assert_eq!(inherited.media_direction(0), MediaDirection::Inactive);
        Ok(())
    }

    #[test]
    fn reads_record_and_recordpref() -> Result<(), SdpError> {
        let description = SessionDescription::parse(
            b"v=0\r\na=record:on\r\nm=audio 9 RTP/AVP 0\r\na=recordpref:off\r\n",
        )?;
        assert_eq!(description.record(), Some(RecordIndication::On));
        assert_eq!(
            description.media[0].record_preference(),
            Some(RecordPreference::Off)
        );
        Ok(())
    }

    #[test]
    fn malformed_known_attribute_is_kept_as_other() -> Result<(), SdpError> {
        let description =
            SessionDescription::parse(b"v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:zero PCMU\r\n")?;
        assert_eq!(
            description.media[0].attributes,
            [Attribute::Other {
                name: "rtpmap".into(),
                value: Some("zero PCMU".into())
            }]
        );
        Ok(())
    }

    #[test]
    fn rejects_text_that_is_not_sdp() {
        assert_eq!(
            SessionDescription::parse(b"hello world"),
            Err(SdpError::MalformedLine { line: 1 })
        );
        assert_eq!(
            SessionDescription::parse(b" \r\n\r\n"),
            Err(SdpError::Empty)
        );
        assert_eq!(
            SessionDescription::parse(b"v=0\r\nm=audio port RTP/AVP 0\r\n"),
            Err(SdpError::InvalidMedia { line: 2 })
        );
    }

    #[test]
    fn enforces_size_media_and_attribute_bounds() {
        let huge = vec![b'a'; MAX_DESCRIPTION_BYTES + 1];
        assert!(matches!(
            SessionDescription::parse(&huge),
            Err(SdpError::TooLarge { .. })
        ));
        let many_media = "m=audio 9 RTP/AVP 0\r\n".repeat(MAX_MEDIA_SECTIONS + 1);
        assert!(matches!(
            SessionDescription::parse(many_media.as_bytes()),
            Err(SdpError::TooManyMediaSections { .. })
        ));
        let many_attributes = format!(
            "m=audio 9 RTP/AVP 0\r\n{}",
            "a=x\r\n".repeat(MAX_ATTRIBUTES_PER_SECTION + 1)
        );
        assert!(matches!(
            SessionDescription::parse(many_attributes.as_bytes()),
            Err(SdpError::TooManyAttributes { .. })
        ));
    }
}
