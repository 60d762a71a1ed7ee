//! Splitting a recording-session request body into its SDP and metadata parts
//! (RFC 2046 §5.1 multipart/mixed; RFC 7866 §9.1).
//!
//! Tolerant as real recording clients require: a missing space after `Content-Type:`,
//! quoted or bare boundaries, a missing boundary parameter (taken from the first delimiter
//! line), LF or CRLF, indented delimiter lines, preamble and epilogue, a missing close
//! delimiter, metadata before SDP, extra parts (Cisco's `application/gtd`), and a metadata
//! part recognised by `Content-Disposition: recording-session` alone. Bounded by
//! [`MAX_BODY_BYTES`] and [`MAX_PARTS`].

use crate::SiprecError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most body parts accepted in one multipart body.
pub const MAX_PARTS: usize = 16;
/// Most header lines accepted in one body part.
const MAX_PART_HEADERS: usize = 32;

/// One body part that is neither the SDP nor the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPart<'a> {
    /// The media type, lower-cased, without parameters (`application/gtd`); empty when absent.
    pub content_type: String,
    /// The disposition type, lower-cased, without parameters (`signal`), when given.
    pub disposition: Option<String>,
    pub body: &'a [u8],
}

/// The metadata part of a recording-session body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPart<'a> {
    /// The media type as declared, lower-cased (`application/rs-metadata+xml`,
    /// `application/rs-metadata`, or what a legacy client wrote).
    pub content_type: String,
    /// Whether it carried `Content-Disposition: recording-session` (RFC 7866 §9.1).
    pub recording_session_disposition: bool,
    pub body: &'a [u8],
}

/// A request body, split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionBody<'a> {
    pub sdp: Option<&'a [u8]>,
    pub metadata: Option<MetadataPart<'a>>,
    pub other_parts: Vec<BodyPart<'a>>,
}

/// A parsed `Content-Type` value: the media type (lower-cased) and the `boundary` parameter.
struct ContentType {
    media_type: String,
    boundary: Option<String>,
}

fn parse_content_type(value: &str) -> ContentType {
    let mut pieces = value.split(';');
    let media_type = normalise_media_type(pieces.next().unwrap_or_default());
    let boundary = pieces.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value);
        Some(value.to_owned()).filter(|boundary| !boundary.is_empty())
    });
    ContentType {
        media_type,
        boundary,
    }
}

fn normalise_media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_sdp(media_type: &str) -> bool {
    media_type == "application/sdp"
}

/// RFC 7866 §9 registers `application/rs-metadata`; RFC 7865 and most SBCs send
/// `application/rs-metadata+xml`. Both are accepted.
fn is_metadata(media_type: &str) -> bool {
    media_type == "application/rs-metadata+xml" || media_type == "application/rs-metadata"
}

/// Splits a request body by its `Content-Type` header value.
///
/// `application/sdp` is a body that is only SDP; `application/rs-metadata[+xml]` is only
/// metadata (an UPDATE or BYE carrying a snapshot); `multipart/mixed` is split. Anything
/// else is [`SiprecError::UnsupportedContentType`]. A second SDP or metadata part is an
/// error rather than a guess ([`SiprecError::DuplicatePart`]).
pub fn split_recording_session_body<'a>(
    content_type: &str,
    body: &'a [u8],
) -> Result<SessionBody<'a>, SiprecError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(SiprecError::BodyTooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let content_type = parse_content_type(content_type);
    let media_type = content_type.media_type.as_str();
    if is_sdp(media_type) {
        return Ok(SessionBody {
            sdp: Some(body),
            ..SessionBody::default()
        });
    }
    if is_metadata(media_type) {
        return Ok(SessionBody {
            metadata: Some(MetadataPart {
                content_type: media_type.to_owned(),
                recording_session_disposition: false,
                body,
            }),
            ..SessionBody::default()
        });
    }
    if !media_type.starts_with("multipart/") {
        return Err(SiprecError::UnsupportedContentType(media_type.to_owned()));
    }
    let boundary = match content_type.boundary {
        Some(boundary) => boundary,
        None => infer_boundary(body).ok_or(SiprecError::MissingBoundary)?,
    };
    let mut session_body = SessionBody::default();
    for part in split_parts(body, boundary.as_bytes())? {
        let headers = parse_part_headers(part)?;
        let recording_session = headers.disposition.as_deref() == Some("recording-session");
        if is_sdp(&headers.content_type) {
            if session_body.sdp.is_some() {
                return Err(SiprecError::DuplicatePart("application/sdp"));
            }
            session_body.sdp = Some(headers.body);
        } else if is_metadata(&headers.content_type)
            || (recording_session && !headers.content_type.starts_with("multipart/"))
        {
            // RFC 7866 §9.1: the metadata part carries the `recording-session` disposition;
            // a legacy client's mangled media type (BroadWorks `application/ +xml`) is
            // recognised by that disposition.
            if session_body.metadata.is_some() {
                return Err(SiprecError::DuplicatePart("application/rs-metadata"));
            }
            session_body.metadata = Some(MetadataPart {
                content_type: headers.content_type,
                recording_session_disposition: recording_session,
                body: headers.body,
            });
        } else {
            session_body.other_parts.push(BodyPart {
                content_type: headers.content_type,
                disposition: headers.disposition,
                body: headers.body,
            });
        }
    }
    Ok(session_body)
}

/// The boundary of a multipart body whose `Content-Type` forgot it: the first line that
/// starts with `--`.
fn infer_boundary(body: &[u8]) -> Option<String> {
    lines(body).find_map(|(start, end, _)| {
        let line = trim(&body[start..end]);
        let boundary = line.strip_prefix(b"--")?;
        let boundary = boundary.strip_suffix(b"--").unwrap_or(boundary);
        let boundary = std::str::from_utf8(boundary).ok()?.trim();
        Some(boundary.to_owned()).filter(|boundary| !boundary.is_empty() && boundary.len() <= 70)
    })
}

/// Line spans `(start, end, next)` of `body`: `end` excludes the line feed (and a carriage
/// return before it); `next` is where the following line starts.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start > body.len() {
            return None;
        }
        let line_start = start;
        let (content_end, next) = match body[start..].iter().position(|byte| *byte == b'\n') {
            Some(offset) => (start + offset, start + offset + 1),
            None => (body.len(), body.len() + 1),
        };
        start = next;
        let end = if content_end > line_start && body[content_end - 1] == b'\r' {
            content_end - 1
        } else {
            content_end
        };
        Some((line_start, end, next.min(body.len())))
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

enum Delimiter {
    Part,
    Close,
}

fn delimiter_kind(line: &[u8], boundary: &[u8]) -> Option<Delimiter> {
    let rest = trim(line).strip_prefix(b"--")?.strip_prefix(boundary)?;
    match trim(rest) {
        b"" => Some(Delimiter::Part),
        b"--" => Some(Delimiter::Close),
        _ => None,
    }
}

/// The raw parts (headers and body) between delimiter lines (RFC 2046 §5.1.1). The line
/// break before a delimiter belongs to the delimiter. A body that ends without the close
/// delimiter ends its last part at the end of the body.
fn split_parts<'a>(body: &'a [u8], boundary: &[u8]) -> Result<Vec<&'a [u8]>, SiprecError> {
    let mut parts = Vec::new();
    let mut current_start: Option<usize> = None;
    let mut previous_line_end = 0;
    for (start, end, next) in lines(body) {
        match delimiter_kind(&body[start..end], boundary) {
            Some(kind) => {
                if let Some(part_start) = current_start.take() {
                    parts.push(&body[part_start..previous_line_end.max(part_start)]);
                    if parts.len() > MAX_PARTS {
                        return Err(SiprecError::TooManyParts { limit: MAX_PARTS });
                    }
                }
                match kind {
                    Delimiter::Part => current_start = Some(next),
                    Delimiter::Close => return Ok(parts),
                }
            }
            None => previous_line_end = end,
        }
    }
    if let Some(part_start) = current_start {
        parts.push(&body[part_start.min(body.len())..]);
    }
    if parts.len() > MAX_PARTS {
        return Err(SiprecError::TooManyParts { limit: MAX_PARTS });
    }
    if parts.is_empty() {
        return Err(SiprecError::NoParts);
    }
    Ok(parts)
}

struct PartHeaders<'a> {
    content_type: String,
    disposition: Option<String>,
    body: &'a [u8],
}

/// Reads a part's header block up to the first empty line. Header names are compared
/// without case; a missing space after the colon is fine; continuation lines are folded.
/// A part that starts straight with content (no header block) has no headers.
fn parse_part_headers(part: &[u8]) -> Result<PartHeaders<'_>, SiprecError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body_start = None;
    for (start, end, next) in lines(part) {
        let line = &part[start..end];
        if trim(line).is_empty() {
            body_start = Some(next);
            break;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t'])
            && let Some((_, value)) = headers.last_mut()
        {
            value.push(' ');
            value.push_str(text.trim());
            continue;
        }
        let header = text
            .split_once(':')
            .map(|(name, value)| (name.trim(), value))
            .filter(|(name, _)| {
                !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_graphic())
            });
        let Some((name, value)) = header else {
            // Not a header line: a part that starts with content has no header block.
            if headers.is_empty() {
                body_start = Some(0);
                break;
            }
            return Err(SiprecError::MalformedPartHeader);
        };
        if headers.len() >= MAX_PART_HEADERS {
            return Err(SiprecError::MalformedPartHeader);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    let content_type = header("content-type")
        .or_else(|| header("c"))
        .map(normalise_media_type)
        .unwrap_or_default();
    let disposition = header("content-disposition").map(normalise_media_type);
    Ok(PartHeaders {
        content_type,
        disposition,
        body: body_start.map_or(&part[part.len()..], |start| &part[start..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--foobar\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n\
        \r\n--foobar\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n\
        <recording/>\r\n--foobar--\r\nepilogue\r\n";

    #[test]
    fn splits_sdp_and_metadata_and_drops_preamble_and_epilogue() -> Result<(), SiprecError> {
        let body = split_recording_session_body("multipart/mixed;boundary=foobar", BODY)?;
        assert_eq!(body.sdp, Some(&b"v=0\r\nm=audio 1 RTP/AVP 0\r\n"[..]));
        let metadata = body.metadata.ok_or(SiprecError::NoParts)?;
        assert_eq!(metadata.body, b"<recording/>");
        assert_eq!(metadata.content_type, "application/rs-metadata+xml");
        assert!(metadata.recording_session_disposition);
        assert!(body.other_parts.is_empty());
        Ok(())
    }

    #[test]
    fn accepts_quoted_boundary_lf_line_ends_and_no_space_after_colon() -> Result<(), SiprecError> {
        let body = b"--b 1\nContent-Type:application/rs-metadata\n\n<recording/>\n--b 1\nContent-Type:application/sdp\n\nv=0\n--b 1--\n";
        let split = split_recording_session_body("Multipart/Mixed; boundary=\"b 1\"", body)?;
        assert_eq!(split.sdp, Some(&b"v=0"[..]));
        assert_eq!(
            split.metadata.map(|part| part.body),
            Some(&b"<recording/>"[..])
        );
        Ok(())
    }

    #[test]
    fn infers_a_missing_boundary_and_tolerates_a_missing_close_delimiter() -> Result<(), SiprecError>
    {
        let body = b"\r\n--xyz\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--xyz\r\nContent-Type: application/gtd\r\n\r\nIAM,\r\n";
        let split = split_recording_session_body("multipart/mixed", body)?;
        assert_eq!(split.sdp, Some(&b"v=0"[..]));
        assert_eq!(split.other_parts.len(), 1);
        assert_eq!(split.other_parts[0].content_type, "application/gtd");
        assert_eq!(split.other_parts[0].body, b"IAM,\r\n");
        Ok(())
    }

    #[test]
    fn recording_session_disposition_marks_a_mangled_metadata_type() -> Result<(), SiprecError> {
        let body = b"--x\r\nContent-Type:application/ +xml\r\nContent-Disposition:recording-session\r\n\r\n<r/>\r\n--x--";
        let split = split_recording_session_body("multipart/mixed;boundary=x", body)?;
        assert_eq!(
            split.metadata.map(|part| part.content_type),
            Some("application/ +xml".to_owned())
        );
        Ok(())
    }

    #[test]
    fn single_part_bodies_are_sdp_or_metadata() -> Result<(), SiprecError> {
        assert_eq!(
            split_recording_session_body("application/SDP", b"v=0")?.sdp,
            Some(&b"v=0"[..])
        );
        let metadata =
            split_recording_session_body("application/rs-metadata", b"<requestsnapshot/>")?;
        assert!(metadata.sdp.is_none() && metadata.metadata.is_some());
        assert_eq!(
            split_recording_session_body("text/plain", b"hi"),
            Err(SiprecError::UnsupportedContentType("text/plain".to_owned()))
        );
        Ok(())
    }

    #[test]
    fn a_second_sdp_part_is_refused() {
        let body = b"--x\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--x\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--x--";
        assert_eq!(
            split_recording_session_body("multipart/mixed;boundary=x", body),
            Err(SiprecError::DuplicatePart("application/sdp"))
        );
    }

    #[test]
    fn size_and_part_count_are_bounded() {
        let huge = vec![b'-'; MAX_BODY_BYTES + 1];
        assert!(matches!(
            split_recording_session_body("multipart/mixed;boundary=x", &huge),
            Err(SiprecError::BodyTooLarge { .. })
        ));
        let many = "--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n".repeat(MAX_PARTS + 1);
        assert_eq!(
            split_recording_session_body("multipart/mixed;boundary=x", many.as_bytes()),
            Err(SiprecError::TooManyParts { limit: MAX_PARTS })
        );
    }

    #[test]
    fn body_without_any_delimiter_has_no_parts() {
        assert_eq!(
            split_recording_session_body("multipart/mixed;boundary=x", b"v=0\r\n"),
            Err(SiprecError::NoParts)
        );
        assert_eq!(
            split_recording_session_body("multipart/mixed", b"v=0\r\n"),
            Err(SiprecError::MissingBoundary)
        );
    }
}
