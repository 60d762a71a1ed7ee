//! A recording server on a virtual clock, recording clients with their policies, and
//! builders for the SIP requests a recording client sends. Included by the `session_*`
//! tests with `#[path]`; compiled on its own it holds no test.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use consent::{Attestation, ConsentRules, StaffPatterns};
use model::clock::{Clock, SystemClock};
use model::{ConsentKind, ConsentPolicy, TenantId};
use onrecord_siprec::{
    ClientPolicy, PortPool, RecordingServer, ServerConfig, SessionEvent, SessionStarted,
};
use sip::{EndpointConfig, Message, Response, Transport, parse_message};

pub const CLIENT: &str = "192.0.2.1:5060";
pub const SERVER_HOST: &str = "192.0.2.10";
pub const FIRST_PORT: u16 = 40_000;
pub const LAST_PORT: u16 = 40_099;

pub fn address(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|error| panic!("address {text}: {error}"))
}

/// `shared/siprec-corpus/<relative>`, failing loudly when the corpus is missing.
pub fn read_corpus(relative: &str) -> String {
    let path = corpus_path(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading SIPREC corpus file {}: {error}", path.display()))
}

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

/// A recording client's policy.
pub fn client(policy: ConsentPolicy, attested: bool, accept_legacy: bool) -> Arc<ClientPolicy> {
    let attestation = attested.then(|| {
        Attestation::new(ConsentKind::Announcement, "prompt-recording-notice-v2")
            .unwrap_or_else(|error| panic!("{error}"))
    });
    Arc::new(ClientPolicy {
        name: "pbx-1".to_owned(),
        tenant: TenantId::new("acme").unwrap_or_else(|error| panic!("{error}")),
        rules: ConsentRules::new(policy, StaffPatterns::none()),
        attestation,
        accept_legacy,
    })
}

#[derive(Debug)]
pub struct Harness {
    pub server: RecordingServer<PortPool>,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub client: Option<Arc<ClientPolicy>>,
}

impl Harness {
    pub fn new(client: Option<Arc<ClientPolicy>>) -> Harness {
        Harness::with_limit(client, 100)
    }

    pub fn with_limit(client: Option<Arc<ClientPolicy>>, max_sessions: usize) -> Harness {
        let endpoint = EndpointConfig::new(
            format!("{SERVER_HOST}:5060"),
            format!("<sip:srs@{SERVER_HOST}:5060>"),
            [7; 32],
        );
        let mut config =
            ServerConfig::new(endpoint, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), [9; 32]);
        config.max_sessions = max_sessions;
        let wall = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_else(|error| panic!("{error}"));
        Harness {
            server: RecordingServer::new(config, PortPool::new(FIRST_PORT, LAST_PORT)),
            now: SystemClock.monotonic(),
            wall,
            client,
        }
    }

    pub fn udp(&mut self, bytes: &[u8]) {
        self.input(Transport::Udp, bytes);
    }

    pub fn input(&mut self, transport: Transport, bytes: &[u8]) {
        self.server.handle_input(
            self.now,
            self.wall,
            address(CLIENT),
            transport,
            bytes,
            self.client.clone(),
        );
    }

    /// Moves the clock on in 100 ms steps, running the timers.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while self.now < end {
            let step = Duration::from_millis(100).min(end - self.now);
            self.now += step;
            self.wall += chrono::Duration::from_std(step).unwrap_or_default();
            if self.server.poll_timeout().is_some_and(|at| at <= self.now) {
                self.server.handle_timeout(self.now, self.wall);
            }
        }
    }

    pub fn messages(&mut self) -> Vec<Message> {
        std::iter::from_fn(|| self.server.poll_transmit())
            .map(|transmit| {
                parse_message(&transmit.bytes, &sip::Limits::default())
                    .unwrap_or_else(|error| panic!("we sent an unparseable message: {error}"))
            })
            .collect()
    }

    pub fn responses(&mut self) -> Vec<Response> {
        self.messages()
            .into_iter()
            .filter_map(|message| match message {
                Message::Response(response) => Some(response),
                Message::Request(_) => None,
            })
            .collect()
    }

    pub fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    /// Sends an INVITE and expects 100 then 200; returns the start event and our To tag.
    pub fn establish(&mut self, invite: &[u8]) -> (SessionStarted, String) {
        self.udp(invite);
        let responses = self.responses();
        let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
        let events = self.events();
        assert_eq!(statuses, vec![100, 200], "events: {events:?}");
        let tag = to_tag(&responses[1]);
        let started = events
            .into_iter()
            .find_map(|event| match event {
                SessionEvent::Started(started) => Some(*started),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no SessionStarted"));
        (started, tag)
    }
}

pub fn to_tag(response: &Response) -> String {
    response
        .headers
        .to()
        .ok()
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_else(|| panic!("response without To tag"))
}

pub fn final_response(responses: &[Response]) -> &Response {
    responses
        .iter()
        .find(|response| response.status >= 200)
        .unwrap_or_else(|| panic!("no final response among {responses:?}"))
}

/// The text of the Warning header of a response.
pub fn warning_text(response: &Response) -> String {
    response
        .headers
        .warnings()
        .ok()
        .and_then(|warnings| warnings.into_iter().next())
        .map(|warning| {
            assert_eq!(warning.code, 399);
            assert_eq!(warning.agent, SERVER_HOST);
            warning.text
        })
        .unwrap_or_else(|| panic!("no Warning in {} response", response.status))
}

/// How a request presents itself to the recording server.
#[derive(Debug, Clone, Copy)]
pub struct Tags {
    /// `+sip.src` in Contact and `Require: siprec` (RFC 7866 §6.1.1).
    pub siprec: bool,
}

pub const SIPREC: Tags = Tags { siprec: true };
pub const LEGACY: Tags = Tags { siprec: false };

/// A request from the recording client. `to_tag` puts it in a dialog.
pub fn request(
    method: &str,
    call_id: &str,
    cseq: u32,
    to_tag: Option<&str>,
    tags: Tags,
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let to = match to_tag {
        Some(tag) => format!("<sip:srs@{SERVER_HOST}>;tag={tag}"),
        None => format!("<sip:srs@{SERVER_HOST}>"),
    };
    let contact = if tags.siprec {
        "<sip:src@192.0.2.1:5060>;+sip.src"
    } else {
        "<sip:src@192.0.2.1:5060>"
    };
    let mut head = format!(
        "{method} sip:srs@{SERVER_HOST} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{call_id}-{cseq}-{method}\r\n\
         From: <sip:src@example.com>;tag=src-{call_id}\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n\
         Contact: {contact}\r\n"
    );
    if tags.siprec && method != "ACK" {
        head.push_str("Require: siprec\r\n");
    }
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub fn invite(call_id: &str, tags: Tags, content_type: &str, body: &[u8]) -> Vec<u8> {
    request("INVITE", call_id, 1, None, tags, Some(content_type), body)
}

pub fn ack(call_id: &str, cseq: u32, to_tag: &str) -> Vec<u8> {
    request("ACK", call_id, cseq, Some(to_tag), LEGACY, None, b"")
}

pub fn bye(call_id: &str, cseq: u32, to_tag: &str) -> Vec<u8> {
    request("BYE", call_id, cseq, Some(to_tag), LEGACY, None, b"")
}

pub const BOUNDARY: &str = "onrecord-boundary";

/// A multipart/mixed body of SDP and metadata (RFC 7866 §9.1); returns the Content-Type too.
pub fn multipart(sdp: &str, metadata: &str) -> (String, Vec<u8>) {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n--{BOUNDARY}\r\n\
         Content-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n\
         {metadata}\r\n--{BOUNDARY}--\r\n"
    );
    (
        format!("multipart/mixed;boundary={BOUNDARY}"),
        body.into_bytes(),
    )
}

/// Two audio streams, labels 1 and 2, G.711 µ-law with telephone-event.
pub fn two_stream_sdp(direction: &str) -> String {
    two_stream_sdp_with(direction, "")
}

/// Like [`two_stream_sdp`], with extra attribute lines for the second stream.
pub fn two_stream_sdp_with(direction: &str, second_extra: &str) -> String {
    format!(
        "v=0\r\no=SRC 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a={direction}\r\na=label:1\r\n\
         m=audio 20002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\na=label:2\r\n{second_extra}"
    )
}

pub const SESSION: &str = "hVpd7YQgRW2nD22h7q60JQ==";
pub const ALICE: &str = "srfBElmCRp2QB23b7Mpk0w==";
pub const BOB: &str = "zSfPoSvdSDCmU3A3TRDxAw==";
pub const CAROL: &str = "Atnm1ZRnOC6Pm5MApkrDzQ==";
pub const STREAM_1: &str = "UAAMm5GRQKSCMVvLyl4rFw==";
pub const STREAM_2: &str = "8zc6e0lYTlWIINA6GR+3ag==";

pub fn consent_element(kind: &str, reference: &str) -> String {
    format!(
        "<consent xmlns=\"urn:onrecord:params:xml:ns:consent:1\" kind=\"{kind}\" \
         at=\"2026-11-28T09:59:50Z\" reference=\"{reference}\"/>"
    )
}

pub fn participant(id: &str, aor: &str, consent: Option<&str>) -> String {
    format!(
        "<participant participant_id=\"{id}\"><nameID aor=\"{aor}\"/>{}</participant>",
        consent.unwrap_or_default()
    )
}

/// Complete metadata: Alice sends on label 1, Bob on label 2; each with the given consent.
pub fn two_party_metadata(alice_consent: Option<&str>, bob_consent: Option<&str>) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <recording xmlns='urn:ietf:params:xml:ns:recording:1'>\
         <datamode>complete</datamode>\
         <session session_id=\"{SESSION}\"><sipSessionID>ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2</sipSessionID></session>\
         {}{}\
         <stream stream_id=\"{STREAM_1}\" session_id=\"{SESSION}\"><label>1</label></stream>\
         <stream stream_id=\"{STREAM_2}\" session_id=\"{SESSION}\"><label>2</label></stream>\
         <participantsessionassoc participant_id=\"{ALICE}\" session_id=\"{SESSION}\"><associate-time>2026-11-28T09:59:50Z</associate-time></participantsessionassoc>\
         <participantsessionassoc participant_id=\"{BOB}\" session_id=\"{SESSION}\"><associate-time>2026-11-28T09:59:50Z</associate-time></participantsessionassoc>\
         <participantstreamassoc participant_id=\"{ALICE}\"><send>{STREAM_1}</send><recv>{STREAM_2}</recv></participantstreamassoc>\
         <participantstreamassoc participant_id=\"{BOB}\"><send>{STREAM_2}</send><recv>{STREAM_1}</recv></participantstreamassoc>\
         </recording>",
        participant(ALICE, "sip:alice@atlanta.example.com", alice_consent),
        participant(BOB, "sip:bob@biloxi.example.com", bob_consent),
    )
}

/// A partial update (RFC 7865 §8.2) with the given elements.
pub fn partial(elements: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <recording xmlns='urn:ietf:params:xml:ns:recording:1'><datamode>partial</datamode>{elements}</recording>"
    )
}

/// The `<send>` messages of a SIPp scenario with its `[field]`s filled in (`[len]` by the
/// body length).
pub fn sipp_messages(xml: &str, peer_tag: Option<&str>) -> Vec<Vec<u8>> {
    let fields = [
        ("[remote_port]", "5060".to_owned()),
        ("[remote_ip]", SERVER_HOST.to_owned()),
        ("[transport]", "UDP".to_owned()),
        ("[local_ip]", "192.0.2.1".to_owned()),
        ("[local_port]", "5060".to_owned()),
        ("[local_ip_type]", "4".to_owned()),
        ("[pid]", "4242".to_owned()),
        ("[call_number]", "1".to_owned()),
        ("[call_id]", "1-4242@192.0.2.1".to_owned()),
        ("[auto_media_port]", "6000".to_owned()),
        ("[service]", "srs".to_owned()),
        (
            "[peer_tag_param]",
            peer_tag
                .map(|tag| format!(";tag={tag}"))
                .unwrap_or_default(),
        ),
    ];
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
        let indent = |line: &str| line.len() - line.trim_start().len();
        let base = indent(first);
        let dedented: Vec<String> = lines
            .iter()
            .map(|line| line[indent(line).min(base)..].trim_end().to_owned())
            .collect();
        let blank = dedented
            .iter()
            .position(String::is_empty)
            .unwrap_or(dedented.len());
        let mut body_lines = dedented[(blank + 1).min(dedented.len())..].to_vec();
        while body_lines.last().is_some_and(String::is_empty) {
            body_lines.pop();
        }
        let branch = format!("z9hG4bK-sipp-{}", messages.len());
        let substitute = |text: String| {
            fields
                .iter()
                .fold(text.replace("[branch]", &branch), |text, (field, value)| {
                    text.replace(field, value)
                })
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
