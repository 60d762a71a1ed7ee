//! Helpers shared by the integration tests: corpus paths, extraction of SIP messages from
//! the RFC text figures and the SIPp scenarios, and an endpoint on a virtual clock.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use model::clock::{Clock, SystemClock};
use onrecord_sip::{Endpoint, EndpointConfig, Event, Message, Transmit, parse_message};

/// `shared/siprec-corpus/<relative>`, failing loudly when the corpus is missing.
pub fn corpus_path(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/siprec-corpus")
        .join(relative);
    assert!(
        path.exists(),
        "SIPREC corpus file {} is missing: the tests need /work/shared/siprec-corpus",
        path.display()
    );
    path
}

pub fn read_corpus(relative: &str) -> String {
    let path = corpus_path(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

const METHODS: &[&str] = &[
    "INVITE", "UPDATE", "BYE", "ACK", "OPTIONS", "CANCEL", "INFO",
];

fn is_request_line(trimmed: &str) -> bool {
    let mut words = trimmed.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    METHODS.contains(&method) && uri.starts_with("sip:") && version == "SIP/2.0"
}

fn looks_like_header(trimmed: &str) -> bool {
    match trimmed.split_once(':') {
        Some((name, _)) => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        }
        None => false,
    }
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The SIP requests drawn in an RFC text figure, as wire bytes. The RFC layout is undone:
/// figure indentation is removed, lines the RFC editor wrapped are turned into header
/// folding, and `[length]` becomes the real body length. The body runs to the next request
/// or the end of the file (the figures elide parts of it with `...`).
pub fn messages_from_rfc_text(text: &str) -> Vec<Vec<u8>> {
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&index| is_request_line(lines[index].trim()))
        .collect();
    let mut messages = Vec::new();
    for (position, &start) in starts.iter().enumerate() {
        let end = starts.get(position + 1).copied().unwrap_or(lines.len());
        let base = indentation(lines[start]);
        let mut head = vec![lines[start].trim().to_owned()];
        let mut index = start + 1;
        while index < end && !lines[index].trim().is_empty() {
            let trimmed = lines[index].trim();
            if looks_like_header(trimmed) {
                head.push(trimmed.to_owned());
            } else {
                head.push(format!(" {trimmed}"));
            }
            index += 1;
        }
        let body_lines: Vec<String> = lines[(index + 1).min(end)..end]
            .iter()
            .map(|line| line[indentation(line).min(base)..].trim_end().to_owned())
            .collect();
        let mut body = body_lines.join("\r\n");
        while body.ends_with("\r\n") {
            body.truncate(body.len() - 2);
        }
        if !body.is_empty() {
            body.push_str("\r\n");
        }
        let head = head
            .join("\r\n")
            .replace("[length]", &body.len().to_string());
        messages.push(format!("{head}\r\n\r\n{body}").into_bytes());
    }
    messages
}

/// Fixed values for SIPp's `[field]` keywords.
pub fn sipp_fields(branch: &str, peer_tag: Option<&str>) -> Vec<(&'static str, String)> {
    vec![
        ("[remote_port]", "5060".to_owned()),
        ("[remote_ip]", "192.0.2.20".to_owned()),
        ("[transport]", "UDP".to_owned()),
        ("[local_ip]", "192.0.2.10".to_owned()),
        ("[local_port]", "5062".to_owned()),
        ("[local_ip_type]", "4".to_owned()),
        ("[branch]", branch.to_owned()),
        ("[pid]", "4242".to_owned()),
        ("[call_number]", "1".to_owned()),
        ("[call_id]", "1-4242@192.0.2.10".to_owned()),
        ("[auto_media_port]", "6000".to_owned()),
        ("[service]", "service".to_owned()),
        (
            "[peer_tag_param]",
            peer_tag
                .map(|tag| format!(";tag={tag}"))
                .unwrap_or_default(),
        ),
    ]
}

/// The messages of the `<send>` elements of a SIPp scenario, with the `[field]` keywords
/// replaced (`[len]` by the real body length). Message `n` gets branch
/// `z9hG4bK-sipp-<n>`.
pub fn messages_from_sipp(xml: &str, peer_tag: Option<&str>) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<![CDATA[") {
        let after = &rest[start + "<![CDATA[".len()..];
        let Some(end) = after.find("]]>") else {
            break;
        };
        let content = &after[..end];
        rest = &after[end..];
        let lines: Vec<&str> = content
            .lines()
            .skip_while(|line| line.trim().is_empty())
            .collect();
        let Some(first) = lines.first() else {
            continue;
        };
        let base = indentation(first);
        let dedented: Vec<String> = lines
            .iter()
            .map(|line| line[indentation(line).min(base)..].trim_end().to_owned())
            .collect();
        let blank = dedented
            .iter()
            .position(String::is_empty)
            .unwrap_or(dedented.len());
        let mut body_lines: Vec<String> = dedented[(blank + 1).min(dedented.len())..].to_vec();
        while body_lines.last().is_some_and(String::is_empty) {
            body_lines.pop();
        }
        let branch = format!("z9hG4bK-sipp-{}", messages.len());
        let fields = sipp_fields(&branch, peer_tag);
        let substitute = |text: String| {
            fields
                .iter()
                .fold(text, |text, (field, value)| text.replace(field, value))
        };
        let mut body = substitute(body_lines.join("\r\n"));
        if !body.is_empty() {
            body.push_str("\r\n");
        }
        let head =
            substitute(dedented[..blank].join("\r\n")).replace("[len]", &body.len().to_string());
        messages.push(format!("{head}\r\n\r\n{body}").into_bytes());
    }
    messages
}

pub fn parse(bytes: &[u8]) -> Message {
    parse_message(bytes, &Default::default()).unwrap_or_else(|error| {
        panic!(
            "parse failed: {error} in\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

pub const SRC: &str = "192.0.2.10:5062";
pub const SRS: &str = "192.0.2.20:5060";

pub fn address(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|error| panic!("{text}: {error}"))
}

/// An endpoint on a virtual clock, with the outputs drained into vectors.
pub struct Harness {
    pub endpoint: Endpoint,
    pub now: Instant,
    pub start: Instant,
}

impl Harness {
    pub fn new() -> Harness {
        let config = EndpointConfig::new(SRS, "<sip:srs@192.0.2.20:5060>;+sip.srs", [7; 32]);
        Harness::with_config(config)
    }

    pub fn with_config(config: EndpointConfig) -> Harness {
        let start = SystemClock.monotonic();
        Harness {
            endpoint: Endpoint::new(config),
            now: start,
            start,
        }
    }

    pub fn input(&mut self, transport: onrecord_sip::Transport, bytes: &[u8]) {
        self.endpoint
            .handle_input(self.now, address(SRC), transport, bytes);
    }

    pub fn udp(&mut self, text: &str) {
        self.input(onrecord_sip::Transport::Udp, text.as_bytes());
    }

    /// Moves the clock to `start + at`, running timers on the way as a driver would.
    pub fn advance_to(&mut self, at: Duration) {
        let target = self.start + at;
        while let Some(deadline) = self.endpoint.poll_timeout() {
            if deadline > target {
                break;
            }
            self.now = self.now.max(deadline);
            self.endpoint.handle_timeout(self.now);
        }
        self.now = target;
        self.endpoint.handle_timeout(self.now);
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.endpoint.poll_transmit()).collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

    /// Every transmit so far, parsed as responses: (status, message).
    pub fn responses(&mut self) -> Vec<onrecord_sip::Response> {
        self.transmits()
            .into_iter()
            .map(|transmit| match parse(&transmit.bytes) {
                Message::Response(response) => response,
                Message::Request(request) => panic!("expected a response, got {request:?}"),
            })
            .collect()
    }
}

/// A small INVITE from the SRC at 192.0.2.10:5062.
pub fn invite(branch: &str, call_id: &str, cseq: u32, to_tag: Option<&str>) -> String {
    let to_tag = to_tag.map(|tag| format!(";tag={tag}")).unwrap_or_default();
    format!(
        "INVITE sip:srs@192.0.2.20:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}\r\n\
         From: <sip:src@192.0.2.10>;tag=src-tag\r\n\
         To: <sip:srs@192.0.2.20>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:src@192.0.2.10:5062>;+sip.src\r\n\
         Require: siprec\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: 4\r\n\r\nv=0\n"
    )
}

/// An in-dialog request (ACK, BYE, UPDATE, ...) from the SRC.
pub fn in_dialog(method: &str, branch: &str, call_id: &str, cseq: u32, to_tag: &str) -> String {
    format!(
        "{method} sip:srs@192.0.2.20:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}\r\n\
         From: <sip:src@192.0.2.10>;tag=src-tag\r\n\
         To: <sip:srs@192.0.2.20>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}
