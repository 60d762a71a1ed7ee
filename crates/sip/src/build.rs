//! Building and serializing messages. Serialization is deterministic: the start line, the
//! header fields in their stored order with the names as stored, then one Content-Length
//! computed from the body, the empty line and the body.

use std::fmt::Write as _;

use crate::message::{Headers, Request, Response};

/// Header fields the builder owns in a response; an application cannot override them.
pub(crate) const RESPONSE_OWNED_HEADERS: &[&str] =
    &["Via", "From", "To", "Call-ID", "CSeq", "Content-Length"];

impl Request {
    pub fn to_bytes(&self) -> Vec<u8> {
        let start_line = format!("{} {} SIP/2.0", self.method, self.uri);
        serialize(&start_line, &self.headers, &self.body)
    }
}

impl Response {
    pub fn to_bytes(&self) -> Vec<u8> {
        let start_line = format!("SIP/2.0 {} {}", self.status, self.reason);
        serialize(&start_line, &self.headers, &self.body)
    }
}

fn serialize(start_line: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
    let mut head = String::with_capacity(512);
    head.push_str(start_line);
    head.push_str("\r\n");
    for header in headers.iter().filter(|header| !header.is("Content-Length")) {
        // Values never hold CR or LF: the parser unfolds them and the builder strips them.
        let _ = write!(head, "{}: {}\r\n", header.name(), header.value());
    }
    // RFC 3261 §20.14: Content-Length MUST be present on stream transports; we always send it.
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Removes CR and LF from a header value supplied by an application, so that it cannot
/// inject header lines.
pub(crate) fn sanitize_value(value: &str) -> String {
    value
        .chars()
        .map(|character| {
            if character == '\r' || character == '\n' {
                ' '
            } else {
                character
            }
        })
        .collect()
}

/// A response to `request` per RFC 3261 §8.2.6: Via, From, Call-ID and CSeq copied, To
/// copied with `to_tag` added when it has none (not on a 100), Timestamp copied into a 100.
pub fn response_to(request: &Request, status: u16, reason: &str, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::new();
    // RFC 3261 §8.2.6.2: "The Via header field values in the response MUST equal the Via
    // header field values in the request and MUST maintain the same ordering."
    for via in request.headers.all("Via") {
        headers.push("Via", via);
    }
    // RFC 3261 §8.2.6.2: the From header field of the response MUST equal that of the request.
    if let Some(from) = request.headers.first("From") {
        headers.push("From", from);
    }
    if let Some(to) = request.headers.first("To") {
        // RFC 3261 §8.2.6.2: if the request had no To tag the UAS MUST add one (a 100 MAY
        // omit it).
        let has_tag = request.headers.to().is_ok_and(|to| to.tag().is_some());
        match to_tag {
            Some(tag) if !has_tag && status != 100 => headers.push("To", format!("{to};tag={tag}")),
            _ => headers.push("To", to),
        }
    }
    // RFC 3261 §8.2.6.2: Call-ID and CSeq MUST equal those of the request.
    if let Some(call_id) = request.headers.first("Call-ID") {
        headers.push("Call-ID", call_id);
    }
    if let Some(cseq) = request.headers.first("CSeq") {
        headers.push("CSeq", cseq);
    }
    // RFC 3261 §8.2.6.1: a 100 copies the Timestamp of the request.
    if status == 100
        && let Some(timestamp) = request.headers.first("Timestamp")
    {
        headers.push("Timestamp", timestamp);
    }
    Response {
        status,
        reason: sanitize_value(reason),
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Method;

    #[test]
    fn serialization_replaces_content_length_and_keeps_order() {
        let request = Request {
            method: Method::Bye,
            uri: "sip:a@192.0.2.1".to_owned(),
            headers: Headers::new()
                .with("Via", "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1")
                .with("l", "99")
                .with("i", "call"),
            body: b"xy".to_vec(),
        };
        assert_eq!(
            String::from_utf8_lossy(&request.to_bytes()),
            "BYE sip:a@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1\r\n\
             i: call\r\nContent-Length: 2\r\n\r\nxy"
        );
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_to_tag() {
        let request = Request {
            method: Method::Invite,
            uri: "sip:srs@192.0.2.1".to_owned(),
            headers: Headers::new()
                .with(
                    "v",
                    "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
                )
                .with("Via", "SIP/2.0/UDP c;branch=z9hG4bK3")
                .with("f", "<sip:x@a>;tag=1")
                .with("t", "sip:srs@192.0.2.1")
                .with("i", "call")
                .with("CSeq", "1 INVITE")
                .with("Timestamp", "54"),
            body: Vec::new(),
        };
        let trying = response_to(&request, 100, "Trying", Some("t1"));
        assert_eq!(trying.headers.first("To"), Some("sip:srs@192.0.2.1"));
        assert_eq!(trying.headers.first("Timestamp"), Some("54"));
        let ok = response_to(&request, 200, "OK", Some("t1"));
        assert_eq!(ok.headers.all("Via").count(), 2);
        assert_eq!(ok.headers.first("To"), Some("sip:srs@192.0.2.1;tag=t1"));
        assert_eq!(ok.headers.first("Timestamp"), None);
    }
}
