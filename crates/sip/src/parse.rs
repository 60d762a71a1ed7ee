//! The message parser: tolerant (bare LF line ends, LWS, folding, compact names, leading
//! CRLFs), bounded (message size, header count, header line length, Content-Length) and
//! panic-free. Errors keep the request head when it was readable enough to answer it.

use std::fmt;

use crate::message::{Header, Headers, Message, Method, Request, Response};

/// Size bounds applied to every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole message (start line + headers + body), in bytes.
    pub max_message_size: usize,
    /// Header fields (after unfolding).
    pub max_headers: usize,
    /// One header field, in bytes, before and after unfolding; also bounds the start line.
    pub max_header_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_size: 64 * 1024,
            max_headers: 128,
            max_header_line: 8 * 1024,
        }
    }
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("empty message")]
    Empty,
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    MessageTooLarge { size: usize, limit: usize },
    #[error("more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error("a header line exceeds {limit} bytes")]
    HeaderLineTooLong { limit: usize },
    #[error("Content-Length {declared} exceeds the limit of {limit} bytes")]
    BodyTooLarge { declared: u64, limit: usize },
    #[error("malformed start line")]
    MalformedStartLine,
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    #[error("malformed header line {line}")]
    MalformedHeader { line: usize },
    #[error("invalid Content-Length")]
    InvalidContentLength,
    #[error("body of {received} bytes is shorter than Content-Length {declared}")]
    TruncatedBody { declared: usize, received: usize },
    #[error("the stream lost its message framing")]
    StreamBroken,
}

impl ParseErrorKind {
    /// The status code to answer a request that failed this way with (the one mapping from
    /// parse errors to SIP responses).
    pub fn status_code(&self) -> u16 {
        match self {
            // RFC 3261 §21.5.13 513 Message Too Large.
            ParseErrorKind::MessageTooLarge { .. }
            | ParseErrorKind::TooManyHeaders { .. }
            | ParseErrorKind::HeaderLineTooLong { .. } => 513,
            // RFC 3261 §21.4.11 413 Request Entity Too Large.
            ParseErrorKind::BodyTooLarge { .. } => 413,
            // RFC 3261 §21.5.6 505 Version Not Supported.
            ParseErrorKind::UnsupportedVersion => 505,
            // RFC 3261 §18.3: a request whose body is shorter than Content-Length SHOULD get
            // a 400; everything else malformed is a 400 too (§21.4.1).
            ParseErrorKind::Empty
            | ParseErrorKind::MalformedStartLine
            | ParseErrorKind::MalformedHeader { .. }
            | ParseErrorKind::InvalidContentLength
            | ParseErrorKind::TruncatedBody { .. }
            | ParseErrorKind::StreamBroken => 400,
        }
    }
}

/// A message that could not be parsed. When it was a request whose Via, Call-ID and CSeq
/// could be read, [`ParseError::salvaged_request`] holds its head so it can be answered.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    kind: ParseErrorKind,
    salvaged: Option<Box<Request>>,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind) -> ParseError {
        ParseError {
            kind,
            salvaged: None,
        }
    }

    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// The head of the failed request (headers read so far, empty body), when Via, Call-ID
    /// and CSeq are present and readable.
    pub fn salvaged_request(&self) -> Option<&Request> {
        self.salvaged.as_deref()
    }

    pub fn status_code(&self) -> u16 {
        self.kind.status_code()
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseError")
            .field("kind", &self.kind)
            .field("salvaged", &self.salvaged.is_some())
            .finish()
    }
}

/// Parses one whole message: a UDP datagram, or a frame cut from a stream by
/// [`crate::StreamFramer`]. RFC 3261 §18.3: with a Content-Length the body is that many
/// bytes and extra bytes are discarded; without one the body runs to the end of the input.
pub fn parse_message(bytes: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    if bytes.len() > limits.max_message_size {
        return Err(ParseError::new(ParseErrorKind::MessageTooLarge {
            size: bytes.len(),
            limit: limits.max_message_size,
        }));
    }
    // RFC 3261 §7.5: CRLFs before the start line MUST be ignored (stream transports); we
    // ignore them on datagrams too.
    let start = bytes
        .iter()
        .position(|byte| *byte != b'\r' && *byte != b'\n')
        .ok_or(ParseError::new(ParseErrorKind::Empty))?;
    let mut reader = LineReader {
        bytes,
        position: start,
    };
    let start_line = reader
        .next_line(limits.max_header_line)
        .map_err(ParseError::new)?
        .ok_or(ParseError::new(ParseErrorKind::Empty))?;
    let start_line = parse_start_line(start_line)?;
    let mut head = Head {
        start_line,
        headers: Vec::new(),
    };
    if let Err(kind) = read_headers(&mut reader, limits, &mut head.headers) {
        return Err(head.into_error(kind));
    }
    let rest = bytes.get(reader.position..).unwrap_or_default();
    let body = match content_length(&head.headers, limits) {
        Err(kind) => return Err(head.into_error(kind)),
        Ok(None) => rest.to_vec(),
        Ok(Some(declared)) => match rest.get(..declared) {
            Some(body) => body.to_vec(),
            None => {
                let kind = ParseErrorKind::TruncatedBody {
                    declared,
                    received: rest.len(),
                };
                return Err(head.into_error(kind));
            }
        },
    };
    Ok(head.into_message(body))
}

enum StartLine {
    Request { method: Method, uri: String },
    Response { status: u16, reason: String },
}

struct Head {
    start_line: StartLine,
    headers: Vec<Header>,
}

impl Head {
    fn into_message(self, body: Vec<u8>) -> Message {
        let mut headers = Headers::new();
        for header in self.headers {
            headers.push(header.name().to_owned(), header.value().to_owned());
        }
        match self.start_line {
            StartLine::Request { method, uri } => Message::Request(Request {
                method,
                uri,
                headers,
                body,
            }),
            StartLine::Response { status, reason } => Message::Response(Response {
                status,
                reason,
                headers,
                body,
            }),
        }
    }

    fn into_error(self, kind: ParseErrorKind) -> ParseError {
        let salvaged = match self.into_message(Vec::new()) {
            Message::Request(request)
                if request.headers.top_via().is_ok()
                    && request.headers.call_id().is_ok()
                    && request.headers.cseq().is_ok() =>
            {
                Some(Box::new(request))
            }
            _ => None,
        };
        ParseError { kind, salvaged }
    }
}

struct LineReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> LineReader<'a> {
    /// The next line without its CRLF or LF; `None` at the end of the input.
    fn next_line(&mut self, limit: usize) -> Result<Option<&'a [u8]>, ParseErrorKind> {
        let rest = self.bytes.get(self.position..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let (line, consumed) = match rest.iter().position(|byte| *byte == b'\n') {
            Some(newline) => (&rest[..newline], newline + 1),
            None => (rest, rest.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > limit {
            return Err(ParseErrorKind::HeaderLineTooLong { limit });
        }
        self.position += consumed;
        Ok(Some(line))
    }
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, ParseError> {
    let malformed = || ParseError::new(ParseErrorKind::MalformedStartLine);
    let text = std::str::from_utf8(line).map_err(|_| malformed())?;
    if starts_with_sip_slash(text) {
        let mut parts = text.trim().splitn(2, char::is_whitespace);
        let version = parts.next().ok_or_else(malformed)?;
        check_version(version)?;
        let rest = parts.next().ok_or_else(malformed)?.trim_start();
        let (code, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let status: u16 = code.parse().map_err(|_| malformed())?;
        if code.len() != 3 || !(100..=699).contains(&status) {
            return Err(malformed());
        }
        return Ok(StartLine::Response {
            status,
            reason: reason.trim().to_owned(),
        });
    }
    let mut parts = text.split_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    if !is_token(method) {
        return Err(malformed());
    }
    check_version(version)?;
    Ok(StartLine::Request {
        method: Method::parse(method),
        uri: uri.to_owned(),
    })
}

fn check_version(version: &str) -> Result<(), ParseError> {
    if version.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    if version.len() > 4 && starts_with_sip_slash(version) {
        return Err(ParseError::new(ParseErrorKind::UnsupportedVersion));
    }
    Err(ParseError::new(ParseErrorKind::MalformedStartLine))
}

/// Whether `text` starts with `SIP/` in any case (compared as bytes: slicing a `str` at 4
/// could split a multi-byte character).
fn starts_with_sip_slash(text: &str) -> bool {
    text.as_bytes()
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"SIP/"))
}

/// RFC 3261 §25.1 token characters.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&byte))
}

/// Reads header lines up to the empty line. A malformed line does not stop the reading, so
/// the head can still be salvaged; the first such error is returned at the end.
fn read_headers(
    reader: &mut LineReader<'_>,
    limits: &Limits,
    headers: &mut Vec<Header>,
) -> Result<(), ParseErrorKind> {
    let mut first_malformed = None;
    let mut line_number = 1;
    while let Some(line) = reader.next_line(limits.max_header_line)? {
        line_number += 1;
        if line.is_empty() {
            return first_malformed.map_or(Ok(()), Err);
        }
        // A bare CR inside a line is not a line end; make it a space so that a value can
        // never carry one into a message we serialize.
        let text = String::from_utf8_lossy(line).replace('\r', " ");
        // RFC 3261 §7.3.1: a line starting with white space continues the previous field;
        // the fold is replaced by a single SP.
        if text.starts_with([' ', '\t']) {
            let Some(previous) = headers.last_mut() else {
                first_malformed
                    .get_or_insert(ParseErrorKind::MalformedHeader { line: line_number });
                continue;
            };
            let continuation = text.trim();
            if continuation.is_empty() {
                continue;
            }
            let value = previous.value_mut();
            if value.len() + 1 + continuation.len() > limits.max_header_line {
                return Err(ParseErrorKind::HeaderLineTooLong {
                    limit: limits.max_header_line,
                });
            }
            if !value.is_empty() {
                value.push(' ');
            }
            value.push_str(continuation);
            continue;
        }
        let Some((name, value)) = text.split_once(':') else {
            first_malformed.get_or_insert(ParseErrorKind::MalformedHeader { line: line_number });
            continue;
        };
        // RFC 3261 §7.3.1: HCOLON allows white space between the name and the colon.
        let name = name.trim_end();
        if !is_token(name) {
            first_malformed.get_or_insert(ParseErrorKind::MalformedHeader { line: line_number });
            continue;
        }
        if headers.len() == limits.max_headers {
            return Err(ParseErrorKind::TooManyHeaders {
                limit: limits.max_headers,
            });
        }
        headers.push(Header::new(name, value.trim()));
    }
    first_malformed.map_or(Ok(()), Err)
}

/// The declared body length; several Content-Length fields must agree.
fn content_length(headers: &[Header], limits: &Limits) -> Result<Option<usize>, ParseErrorKind> {
    let mut declared: Option<u64> = None;
    for header in headers.iter().filter(|header| header.is("Content-Length")) {
        let digits = header.value().trim();
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(ParseErrorKind::InvalidContentLength);
        }
        // Too many digits for a u64 is a huge length, not a malformed one.
        let value = digits.parse::<u64>().unwrap_or(u64::MAX);
        if declared.is_some_and(|previous| previous != value) {
            return Err(ParseErrorKind::InvalidContentLength);
        }
        declared = Some(value);
    }
    match declared {
        None => Ok(None),
        Some(value) => match usize::try_from(value) {
            Ok(length) if length <= limits.max_message_size => Ok(Some(length)),
            _ => Err(ParseErrorKind::BodyTooLarge {
                declared: value,
                limit: limits.max_message_size,
            }),
        },
    }
}

/// Finds the Content-Length of a head without parsing it fully (used by the stream framer).
/// `Ok(None)` when absent.
pub(crate) fn scan_content_length(
    head: &[u8],
    limits: &Limits,
) -> Result<Option<usize>, ParseErrorKind> {
    let mut headers = Vec::new();
    for line in head.split(|byte| *byte == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        if let Some((name, value)) = text.split_once(':') {
            let header = Header::new(name.trim_end(), value.trim());
            if header.is("Content-Length") {
                headers.push(header);
            }
        }
    }
    content_length(&headers, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        match parse_message(text.as_bytes(), &Limits::default()) {
            Ok(Message::Request(request)) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn folded_header_is_unfolded_with_one_space() {
        let parsed = request(
            "OPTIONS sip:a@b SIP/2.0\r\nSubject: first\r\n  \t second\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(parsed.headers.first("Subject"), Some("first second"));
    }

    #[test]
    fn bare_lf_line_ends_and_leading_crlf_are_tolerated() {
        let parsed = request("\r\n\r\nOPTIONS  sip:a@b   SIP/2.0\nCall-ID : x\n\nbody");
        assert_eq!(parsed.headers.call_id(), Ok("x"));
        assert_eq!(parsed.body, b"body");
    }

    #[test]
    fn content_length_cuts_the_body_and_extra_bytes_are_discarded() {
        let parsed = request("BYE sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcdef");
        assert_eq!(parsed.body, b"abc");
    }

    #[test]
    fn unsupported_version_maps_to_505() {
        let error = parse_message(b"INVITE sip:a@b SIP/3.0\r\n\r\n", &Limits::default())
            .err()
            .unwrap_or_else(|| panic!("accepted SIP/3.0"));
        assert_eq!(error.status_code(), 505);
    }

    #[test]
    fn multibyte_character_in_the_first_four_bytes_is_malformed_not_a_panic() {
        for start in [
            "SIé 200 OK\r\n\r\n",
            "INVITE sip:a@b SIé\r\n\r\n",
            "€€ x y\r\n\r\n",
        ] {
            let result = parse_message(start.as_bytes(), &Limits::default());
            assert!(result.is_err(), "{start:?}");
        }
    }

    #[test]
    fn conflicting_content_lengths_are_rejected() {
        let error = parse_message(
            b"BYE sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab",
            &Limits::default(),
        )
        .err()
        .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(error.kind(), &ParseErrorKind::InvalidContentLength);
    }
}
