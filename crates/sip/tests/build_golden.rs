//! Deterministic serialization: the bytes the endpoint sends for a recorded call (100, 200
//! with Record-Route and Contact, the BYE along the route set, OPTIONS, errors) are
//! compared with `testdata/sip/uas-wire.golden` (regenerate with `UPDATE_GOLDEN=1`).

mod common;

use std::path::PathBuf;

use common::{Harness, in_dialog, parse};
use onrecord_sip::{Event, Headers, Message, Method, Response, Transmit, response_to};

fn check_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sip")
        .join(format!("{name}.golden"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "golden file {} unreadable ({error}); run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn record(log: &mut String, label: &str, transmits: Vec<Transmit>) {
    for transmit in transmits {
        log.push_str(&format!(
            "### {label} -> {} {:?}\n{}\n",
            transmit.destination,
            transmit.transport,
            String::from_utf8_lossy(&transmit.bytes).replace("\r\n", "\\r\\n\n")
        ));
    }
}

const INVITE: &str = "INVITE sip:srs@192.0.2.20:5060 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKproxy, SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKsrc\r\n\
    Record-Route: <sip:192.0.2.30;lr>\r\n\
    From: \"Recorder Client\" <sip:src@example.com>;tag=src-tag\r\n\
    To: <sip:srs@example.com>\r\n\
    Call-ID: golden-call\r\n\
    CSeq: 101 INVITE\r\n\
    Contact: <sip:src@192.0.2.10:5062>;+sip.src\r\n\
    Require: siprec\r\n\
    Max-Forwards: 69\r\n\
    Timestamp: 12\r\n\
    Content-Length: 0\r\n\r\n";

#[test]
fn uas_wire_bytes_match_the_golden_file() {
    let mut harness = Harness::new();
    let mut log = String::new();
    harness.udp(INVITE);
    record(&mut log, "INVITE", harness.transmits());
    let transaction = match harness.events().as_slice() {
        [Event::IncomingInvite { transaction, .. }] => *transaction,
        other => panic!("expected IncomingInvite, got {other:?}"),
    };
    let headers = Headers::new()
        .with("Content-Type", "application/sdp")
        .with("Warning", "399 srs.example.com \"recording\"");
    let dialog = harness
        .endpoint
        .respond(harness.now, transaction, 200, headers, b"v=0\r\n".to_vec())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no dialog"));
    let ok = harness.transmits();
    let tag = match parse(&ok[0].bytes) {
        Message::Response(response) => response
            .headers
            .to()
            .ok()
            .and_then(|to| to.tag().map(str::to_owned))
            .unwrap_or_default(),
        Message::Request(_) => panic!("expected the 200"),
    };
    record(&mut log, "respond 200", ok);
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "golden-call", 101, &tag));
    harness
        .endpoint
        .send_request(
            harness.now,
            dialog,
            Method::Bye,
            Headers::new().with("Reason", "SIP;cause=200"),
            Vec::new(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let bye = harness.transmits();
    // RFC 3261 §12.2.1.1: loose routing, so the BYE goes to the proxy with a Route.
    assert_eq!(bye[0].destination, common::address("192.0.2.30:5060"));
    record(&mut log, "send BYE", bye);
    harness.udp(
        "OPTIONS sip:srs@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKo;rport\r\n\
         From: <sip:ping@example.com>;tag=p\r\nTo: <sip:srs@example.com>\r\nCall-ID: ping\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
    );
    record(&mut log, "OPTIONS", harness.transmits());
    harness.udp(
        &INVITE
            .replace("CSeq: 101 INVITE\r\n", "")
            .replace("z9hG4bKproxy", "z9hG4bKnocseq"),
    );
    record(&mut log, "INVITE without CSeq", harness.transmits());
    check_golden("uas-wire", &log);
}

#[test]
fn response_builder_is_deterministic_and_strips_line_breaks() {
    let Message::Request(request) = parse(INVITE.as_bytes()) else {
        panic!("not a request");
    };
    let first: Response = response_to(&request, 486, "Busy\r\nX-Injected: yes", Some("t"));
    let second = response_to(&request, 486, "Busy\r\nX-Injected: yes", Some("t"));
    assert_eq!(first.to_bytes(), second.to_bytes());
    let text = String::from_utf8_lossy(&first.to_bytes()).into_owned();
    assert!(
        text.starts_with("SIP/2.0 486 Busy  X-Injected: yes\r\n"),
        "{text}"
    );
    assert!(!text.contains("\r\nX-Injected"));
}
