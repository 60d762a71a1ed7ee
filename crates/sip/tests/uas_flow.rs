//! The UAS endpoint on a virtual clock: INVITE/200/ACK, 2xx retransmission and its
//! timeout, BYE, CANCEL, OPTIONS, unknown dialogs, CSeq order, re-INVITE.

mod common;

use std::time::Duration;

use common::{Harness, in_dialog, invite, parse};
use onrecord_sip::{
    DialogEndReason, DialogId, Error, Event, Headers, Message, Method, ServerTransactionId,
    Transport,
};

const SDP: &[u8] = b"v=0\r\no=SRS 0 0 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0\r\na=recvonly\r\n";

fn sdp_headers() -> Headers {
    Headers::new().with("Content-Type", "application/sdp")
}

fn millis(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn incoming_invite(harness: &mut Harness) -> ServerTransactionId {
    let events = harness.events();
    match events.as_slice() {
        [Event::IncomingInvite { transaction, .. }] => *transaction,
        other => panic!("expected one IncomingInvite, got {other:?}"),
    }
}

/// INVITE, 100, 200: returns the dialog and our To tag.
fn establish(harness: &mut Harness, call_id: &str) -> (DialogId, String) {
    harness.udp(&invite("z9hG4bKinvite", call_id, 1, None));
    let transaction = incoming_invite(harness);
    let dialog = harness
        .endpoint
        .respond(harness.now, transaction, 200, sdp_headers(), SDP.to_vec())
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|| panic!("a 2xx to an INVITE creates a dialog"));
    let responses = harness.responses();
    assert_eq!(
        responses
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        vec![100, 200]
    );
    let tag = responses[1]
        .headers
        .to()
        .ok()
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_else(|| panic!("200 without To tag"));
    (dialog, tag)
}

#[test]
fn invite_gets_100_then_200_retransmitted_at_doubling_intervals_until_ack() {
    let mut harness = Harness::new();
    harness.udp(&invite("z9hG4bKinvite", "call-1", 1, None));
    let trying = harness.responses();
    assert_eq!(trying.len(), 1);
    assert_eq!(trying[0].status, 100);
    let transaction = incoming_invite(&mut harness);
    harness
        .endpoint
        .respond(harness.now, transaction, 200, sdp_headers(), SDP.to_vec())
        .unwrap_or_else(|error| panic!("{error}"));
    let ok = harness.responses();
    assert_eq!(ok.len(), 1);
    let ok = &ok[0];
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, SDP);
    assert!(ok.headers.to().is_ok_and(|to| to.tag().is_some()));
    assert_eq!(
        ok.headers.first("Contact"),
        Some("<sip:srs@192.0.2.20:5060>;+sip.srs")
    );
    assert!(ok.headers.allow().contains(&Method::Bye));
    assert_eq!(ok.headers.supported(), vec!["siprec"]);
    let tag = ok
        .headers
        .to()
        .ok()
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_default();

    // RFC 3261 §13.3.1.4: T1, then doubling: 500 ms, 1 s, 2 s, 4 s (capped at T2).
    let mut retransmitted_at = Vec::new();
    for step in 1..=80 {
        harness.advance_to(millis(step * 100));
        for transmit in harness.transmits() {
            let Message::Response(response) = parse(&transmit.bytes) else {
                panic!("expected the 2xx");
            };
            assert_eq!(response.status, 200);
            retransmitted_at.push(harness.elapsed());
        }
    }
    assert_eq!(
        retransmitted_at,
        vec![millis(500), millis(1_500), millis(3_500), millis(7_500)]
    );

    harness.udp(&in_dialog("ACK", "z9hG4bKack", "call-1", 1, &tag));
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::AckReceived { .. }]),
        "{events:?}"
    );
    harness.advance_to(Duration::from_secs(60));
    assert!(
        harness.transmits().is_empty(),
        "the ACK stops the retransmission"
    );
    assert!(harness.events().is_empty());
    assert_eq!(harness.endpoint.dialog_count(), 1);
}

#[test]
fn missing_ack_ends_the_dialog_with_a_bye_after_64_t1() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "call-2");
    harness.advance_to(millis(31_900));
    let retransmissions = harness.transmits().len();
    // 0.5, 1.5, 3.5, 7.5, 11.5, ..., 31.5 s.
    assert_eq!(retransmissions, 10);
    assert!(harness.events().is_empty());
    harness.advance_to(millis(32_000));
    let transmits = harness.transmits();
    assert_eq!(transmits.len(), 1);
    let Message::Request(bye) = parse(&transmits[0].bytes) else {
        panic!("expected a BYE");
    };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri, "sip:src@192.0.2.10:5062");
    assert_eq!(transmits[0].destination, common::address("192.0.2.10:5062"));
    assert_eq!(
        bye.headers
            .from()
            .ok()
            .and_then(|from| from.tag().map(str::to_owned)),
        Some(tag)
    );
    assert_eq!(
        bye.headers
            .to()
            .ok()
            .and_then(|to| to.tag().map(str::to_owned)),
        Some("src-tag".to_owned())
    );
    assert_eq!(bye.headers.cseq().map(|cseq| cseq.sequence), Ok(1));
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::DialogEnded { dialog: ended, reason: DialogEndReason::AckTimeout }] if *ended == dialog),
        "{events:?}"
    );
    assert_eq!(harness.endpoint.dialog_count(), 0);
}

#[test]
fn bye_gets_200_and_ends_the_dialog() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "call-3");
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "call-3", 1, &tag));
    harness.events();
    harness.udp(&in_dialog("BYE", "z9hG4bKbye", "call-3", 2, &tag));
    let responses = harness.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 200);
    assert_eq!(
        responses[0].headers.cseq().map(|cseq| cseq.method),
        Ok(Method::Bye)
    );
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::DialogEnded { dialog: ended, reason: DialogEndReason::RemoteBye }] if *ended == dialog),
        "{events:?}"
    );
    // A retransmitted BYE gets the same 200 again from its transaction.
    harness.udp(&in_dialog("BYE", "z9hG4bKbye", "call-3", 2, &tag));
    assert_eq!(
        harness
            .responses()
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        vec![200]
    );
    // A new BYE for the ended dialog gets 481.
    harness.udp(&in_dialog("BYE", "z9hG4bKbye2", "call-3", 3, &tag));
    assert_eq!(harness.responses()[0].status, 481);
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let mut harness = Harness::new();
    let request = invite("z9hG4bKdup", "call-4", 1, None);
    harness.udp(&request);
    harness.udp(&request);
    let statuses: Vec<u16> = harness
        .responses()
        .iter()
        .map(|response| response.status)
        .collect();
    // RFC 3261 §17.2.1: the most recent provisional response is sent again.
    assert_eq!(statuses, vec![100, 100]);
    let transaction = incoming_invite(&mut harness);
    harness
        .endpoint
        .respond(harness.now, transaction, 200, sdp_headers(), SDP.to_vec())
        .unwrap_or_else(|error| panic!("{error}"));
    harness.transmits();
    // RFC 6026 §7.1: in Accepted the INVITE retransmission is absorbed.
    harness.udp(&request);
    assert!(harness.transmits().is_empty());
    assert!(harness.events().is_empty());
}

#[test]
fn cancel_gets_200_and_the_invite_487() {
    let mut harness = Harness::new();
    harness.udp(&invite("z9hG4bKcancelled", "call-5", 1, None));
    let transaction = incoming_invite(&mut harness);
    harness.transmits();
    harness.udp(
        "CANCEL sip:srs@192.0.2.20:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKcancelled\r\n\
         From: <sip:src@192.0.2.10>;tag=src-tag\r\n\
         To: <sip:srs@192.0.2.20>\r\n\
         Call-ID: call-5\r\n\
         CSeq: 1 CANCEL\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
    );
    let responses = harness.responses();
    let summary: Vec<(u16, String)> = responses
        .iter()
        .map(|response| {
            let method = response
                .headers
                .cseq()
                .map(|cseq| cseq.method.to_string())
                .unwrap_or_default();
            (response.status, method)
        })
        .collect();
    assert_eq!(
        summary,
        vec![(200, "CANCEL".to_owned()), (487, "INVITE".to_owned())]
    );
    let tags: Vec<Option<String>> = responses
        .iter()
        .map(|response| {
            response
                .headers
                .to()
                .ok()
                .and_then(|to| to.tag().map(str::to_owned))
        })
        .collect();
    assert!(tags[0].is_some());
    assert_eq!(tags[0], tags[1], "RFC 3261 §9.2: the same To tag");
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::Cancelled { transaction: cancelled, dialog: None }] if *cancelled == transaction),
        "{events:?}"
    );
    let late = harness
        .endpoint
        .respond(harness.now, transaction, 200, Headers::new(), Vec::new());
    assert!(
        matches!(late, Err(Error::FinalResponseAlreadySent)),
        "{late:?}"
    );
    // Timer G retransmits the 487 over UDP until the ACK (same branch) arrives.
    harness.advance_to(millis(600));
    assert_eq!(
        harness
            .responses()
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        vec![487]
    );
    let tag = tags[0].clone().unwrap_or_default();
    let ack = in_dialog("ACK", "z9hG4bKcancelled", "call-5", 1, &tag);
    harness.udp(&ack);
    harness.advance_to(Duration::from_secs(10));
    assert!(harness.transmits().is_empty());
    assert!(harness.events().is_empty());
    // Timer I (T4) ended the INVITE transaction, Timer J (64*T1) ends the CANCEL's.
    assert_eq!(harness.endpoint.transaction_count(), 1);
    harness.advance_to(Duration::from_secs(33));
    assert_eq!(harness.endpoint.transaction_count(), 0);
}

#[test]
fn cancel_without_matching_invite_gets_481() {
    let mut harness = Harness::new();
    harness.udp(&in_dialog("CANCEL", "z9hG4bKnothing", "call-6", 1, "x").replace(";tag=x", ""));
    assert_eq!(harness.responses()[0].status, 481);
}

#[test]
fn options_outside_a_dialog_gets_200_with_allow_accept_supported() {
    let mut harness = Harness::new();
    harness.udp(
        "OPTIONS sip:srs@192.0.2.20 SIP/2.0\r\n\
         v: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKoptions\r\n\
         f: <sip:monitor@192.0.2.10>;tag=m1\r\n\
         t: <sip:srs@192.0.2.20>\r\n\
         i: options-1\r\n\
         CSeq: 7 OPTIONS\r\n\
         l: 0\r\n\r\n",
    );
    let responses = harness.responses();
    assert_eq!(responses.len(), 1);
    let ok = &responses[0];
    assert_eq!(ok.status, 200);
    assert!(ok.headers.allow().contains(&Method::Invite));
    assert!(
        ok.headers
            .first("Accept")
            .is_some_and(|accept| accept.contains("application/sdp"))
    );
    assert_eq!(ok.headers.supported(), vec!["siprec"]);
    assert_eq!(ok.headers.call_id(), Ok("options-1"));
    assert!(harness.events().is_empty());
}

#[test]
fn request_for_unknown_dialog_gets_481() {
    let mut harness = Harness::new();
    harness.udp(&in_dialog(
        "BYE",
        "z9hG4bKstray",
        "no-such-call",
        5,
        "unknown",
    ));
    harness.udp(&in_dialog(
        "UPDATE",
        "z9hG4bKstray2",
        "no-such-call",
        6,
        "unknown",
    ));
    let statuses: Vec<u16> = harness
        .responses()
        .iter()
        .map(|response| response.status)
        .collect();
    assert_eq!(statuses, vec![481, 481]);
    // An ACK cannot be answered: it is dropped.
    harness.udp(&in_dialog(
        "ACK",
        "z9hG4bKstray3",
        "no-such-call",
        5,
        "unknown",
    ));
    assert!(harness.transmits().is_empty());
}

#[test]
fn reinvite_with_lower_cseq_gets_500() {
    let mut harness = Harness::new();
    harness.udp(&invite("z9hG4bKfirst", "call-7", 10, None));
    let transaction = incoming_invite(&mut harness);
    harness
        .endpoint
        .respond(harness.now, transaction, 200, sdp_headers(), SDP.to_vec())
        .unwrap_or_else(|error| panic!("{error}"));
    let tag = harness.responses()[1]
        .headers
        .to()
        .ok()
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_default();
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "call-7", 10, &tag));
    harness.events();
    harness.udp(&invite("z9hG4bKstale", "call-7", 9, Some(&tag)));
    let responses = harness.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 500);
    assert!(harness.events().is_empty());
}

#[test]
fn reinvite_goes_to_the_application_and_its_2xx_waits_for_the_ack() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "call-8");
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "call-8", 1, &tag));
    harness.events();
    harness.udp(&invite("z9hG4bKreinvite", "call-8", 2, Some(&tag)));
    assert_eq!(
        harness
            .responses()
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        vec![100]
    );
    let events = harness.events();
    let transaction = match events.as_slice() {
        [
            Event::InDialogRequest {
                dialog: in_dialog,
                transaction,
                request,
            },
        ] => {
            assert_eq!(*in_dialog, dialog);
            assert_eq!(request.method, Method::Invite);
            *transaction
        }
        other => panic!("expected InDialogRequest, got {other:?}"),
    };
    // RFC 3261 §14.2: a second re-INVITE while the first is unanswered gets 500 + Retry-After.
    harness.udp(&invite("z9hG4bKoverlap", "call-8", 3, Some(&tag)));
    let overlap = harness.responses();
    assert_eq!(overlap[0].status, 500);
    assert!(overlap[0].headers.first("Retry-After").is_some());
    // The ACK for that 500 (same branch) stops its Timer G retransmission.
    harness.udp(&in_dialog("ACK", "z9hG4bKoverlap", "call-8", 3, &tag));
    let created = harness
        .endpoint
        .respond(harness.now, transaction, 200, sdp_headers(), SDP.to_vec())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(created, None, "a re-INVITE does not create a dialog");
    assert_eq!(harness.responses()[0].status, 200);
    harness.advance_to(millis(600));
    assert_eq!(
        harness.responses()[0].status,
        200,
        "the re-INVITE's 2xx is retransmitted"
    );
    harness.udp(&in_dialog("ACK", "z9hG4bKack2", "call-8", 2, &tag));
    assert!(matches!(
        harness.events().as_slice(),
        [Event::AckReceived { .. }]
    ));
    harness.advance_to(Duration::from_secs(40));
    assert!(harness.transmits().is_empty());
}

#[test]
fn bye_terminates_a_pending_reinvite_with_487() {
    let mut harness = Harness::new();
    let (_, tag) = establish(&mut harness, "call-9");
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "call-9", 1, &tag));
    harness.udp(&invite("z9hG4bKreinvite", "call-9", 2, Some(&tag)));
    harness.events();
    harness.transmits();
    harness.udp(&in_dialog("BYE", "z9hG4bKbye", "call-9", 3, &tag));
    let statuses: Vec<u16> = harness
        .responses()
        .iter()
        .map(|response| response.status)
        .collect();
    assert_eq!(statuses, vec![200, 487]);
    let events = harness.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Cancelled { .. },
                Event::DialogEnded {
                    reason: DialogEndReason::RemoteBye,
                    ..
                }
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn unanswered_invite_gets_500_at_the_answer_deadline() {
    let mut harness = Harness::new();
    harness.udp(&invite("z9hG4bKslow", "call-10", 1, None));
    let transaction = incoming_invite(&mut harness);
    harness.transmits();
    harness.advance_to(millis(31_999));
    assert!(harness.transmits().is_empty());
    harness.advance_to(millis(32_000));
    assert_eq!(harness.responses()[0].status, 500);
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::RequestExpired { transaction: expired, dialog: None }] if *expired == transaction),
        "{events:?}"
    );
}

#[test]
fn tcp_invite_split_across_reads_and_keepalive_ping() {
    let mut harness = Harness::new();
    let request = invite("z9hG4bKtcp", "call-11", 1, None).replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let bytes = format!("\r\n\r\n{request}");
    let (first, second) = bytes.as_bytes().split_at(40);
    harness.input(Transport::Tcp, first);
    let pong = harness.transmits();
    assert_eq!(pong.len(), 1, "RFC 5626: CRLFCRLF is answered with CRLF");
    assert_eq!(pong[0].bytes, b"\r\n");
    assert!(harness.events().is_empty());
    harness.input(Transport::Tcp, second);
    let transaction = incoming_invite(&mut harness);
    let trying = harness.transmits();
    assert_eq!(trying[0].transport, Transport::Tcp);
    assert_eq!(trying[0].destination, common::address(common::SRC));
    // A non-2xx final over TCP is not retransmitted (Timer G is UDP only).
    harness
        .endpoint
        .respond(harness.now, transaction, 486, Headers::new(), Vec::new())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(harness.transmits().len(), 1);
    harness.advance_to(Duration::from_secs(5));
    assert!(harness.transmits().is_empty());
}

#[test]
fn rport_and_received_send_the_response_to_the_source_address() {
    let mut harness = Harness::new();
    let request = invite("z9hG4bKnat", "call-12", 1, None).replace(
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKnat",
        "Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKnat;rport",
    );
    harness.udp(&request);
    let transmits = harness.transmits();
    assert_eq!(transmits[0].destination, common::address(common::SRC));
    let Message::Response(trying) = parse(&transmits[0].bytes) else {
        panic!("expected a response");
    };
    assert_eq!(
        trying.headers.first("Via"),
        Some("SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKnat;rport=5062;received=192.0.2.10")
    );
}

#[test]
fn unsupported_require_unknown_method_and_missing_headers_are_answered() {
    let mut harness = Harness::new();
    harness.udp(
        &invite("z9hG4bKreq", "call-13", 1, None)
            .replace("Require: siprec", "Require: siprec, 100rel"),
    );
    let refused = harness.responses();
    assert_eq!(refused[0].status, 420);
    assert_eq!(refused[0].headers.first("Unsupported"), Some("100rel"));
    harness.udp(&in_dialog("FOO", "z9hG4bKfoo", "call-14", 1, "x").replace(";tag=x", ""));
    assert_eq!(harness.responses()[0].status, 501);
    harness.udp(&in_dialog("REGISTER", "z9hG4bKreg", "call-15", 1, "x").replace(";tag=x", ""));
    let register = harness.responses();
    assert_eq!(register[0].status, 405);
    assert!(register[0].headers.allow().contains(&Method::Options));
    harness.udp(&invite("z9hG4bKnocallid", "call-16", 1, None).replace("Call-ID: call-16\r\n", ""));
    let bad = harness.responses();
    assert_eq!(bad[0].status, 400);
    assert_eq!(bad[0].reason, "Missing Call-ID header field");
    assert!(harness.events().is_empty());
}

#[test]
fn huge_content_length_is_answered_413() {
    let mut harness = Harness::new();
    harness.udp(
        &invite("z9hG4bKhuge", "call-17", 1, None)
            .replace("Content-Length: 4", "Content-Length: 99999999999"),
    );
    let responses = harness.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 413);
    assert_eq!(responses[0].headers.call_id(), Ok("call-17"));
    assert!(harness.events().is_empty());
}
