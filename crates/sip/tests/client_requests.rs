//! Requests the application sends in a dialog (BYE, UPDATE), their client transactions,
//! and a whole call driven by the SIPp scenario that will be the real client end to end.

mod common;

use std::time::Duration;

use common::{Harness, in_dialog, invite, messages_from_sipp, parse, read_corpus};
use onrecord_sip::{
    DialogEndReason, DialogId, Error, Event, Headers, Message, Method, Request, Transport,
};

fn establish(harness: &mut Harness, call_id: &str) -> (DialogId, String) {
    harness.udp(&invite("z9hG4bKinvite", call_id, 1, None));
    let transaction = match harness.events().as_slice() {
        [Event::IncomingInvite { transaction, .. }] => *transaction,
        other => panic!("expected IncomingInvite, got {other:?}"),
    };
    let dialog = harness
        .endpoint
        .respond(harness.now, transaction, 200, Headers::new(), Vec::new())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no dialog"));
    let responses = harness.responses();
    let tag = responses[1]
        .headers
        .to()
        .ok()
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_default();
    (dialog, tag)
}

fn sent_request(harness: &mut Harness) -> Request {
    let transmits = harness.transmits();
    assert_eq!(
        transmits.len(),
        1,
        "expected one request, got {transmits:?}"
    );
    match parse(&transmits[0].bytes) {
        Message::Request(request) => request,
        Message::Response(response) => panic!("expected a request, got {response:?}"),
    }
}

/// The SRC's answer to a request we sent.
fn answer(request: &Request, status: u16) -> String {
    let via = request.headers.first("Via").unwrap_or_default();
    let from = request.headers.first("From").unwrap_or_default();
    let to = request.headers.first("To").unwrap_or_default();
    let call_id = request.headers.first("Call-ID").unwrap_or_default();
    let cseq = request.headers.first("CSeq").unwrap_or_default();
    format!(
        "SIP/2.0 {status} Whatever\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn update_with_a_body_is_retransmitted_until_answered() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "update-1");
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "update-1", 1, &tag));
    harness.events();
    let snapshot = b"<requestsnapshot xmlns='urn:ietf:params:xml:ns:recording:1'/>".to_vec();
    let headers = Headers::new()
        .with("Content-Type", "application/rs-metadata")
        .with("Content-Disposition", "recording-session");
    let transaction = harness
        .endpoint
        .send_request(
            harness.now,
            dialog,
            Method::Update,
            headers,
            snapshot.clone(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let update = sent_request(&mut harness);
    assert_eq!(update.method, Method::Update);
    assert_eq!(update.uri, "sip:src@192.0.2.10:5062");
    assert_eq!(update.body, snapshot);
    assert_eq!(update.headers.cseq().map(|cseq| cseq.sequence), Ok(1));
    assert_eq!(
        update.headers.first("Contact"),
        Some("<sip:srs@192.0.2.20:5060>;+sip.srs")
    );
    let via = update
        .headers
        .top_via()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(via.has_rfc3261_branch());
    assert_eq!(via.rport(), Some(None));
    // RFC 3261 §17.1.2.2 Timer E: 500 ms, then 1 s.
    harness.advance_to(Duration::from_millis(500));
    assert_eq!(sent_request(&mut harness).method, Method::Update);
    harness.advance_to(Duration::from_millis(1_400));
    assert!(harness.transmits().is_empty());
    harness.advance_to(Duration::from_millis(1_500));
    assert_eq!(sent_request(&mut harness).method, Method::Update);
    harness.udp(&answer(&update, 200));
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::ResponseReceived { transaction: answered, response, .. }]
            if *answered == transaction && response.status == 200),
        "{events:?}"
    );
    // A retransmitted 200 is absorbed by the Completed transaction.
    harness.udp(&answer(&update, 200));
    assert!(harness.events().is_empty());
    harness.advance_to(Duration::from_secs(20));
    assert!(harness.transmits().is_empty());
    assert_eq!(harness.endpoint.dialog_count(), 1);
}

#[test]
fn update_answered_481_ends_the_dialog() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "update-2");
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "update-2", 1, &tag));
    harness.events();
    harness
        .endpoint
        .send_request(
            harness.now,
            dialog,
            Method::Update,
            Headers::new(),
            Vec::new(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let update = sent_request(&mut harness);
    harness.udp(&answer(&update, 481));
    let events = harness.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::ResponseReceived { .. },
                Event::DialogEnded {
                    reason: DialogEndReason::RequestFailed { status: Some(481) },
                    ..
                }
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn unanswered_update_times_out_after_64_t1() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "update-3");
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "update-3", 1, &tag));
    harness.events();
    let transaction = harness
        .endpoint
        .send_request(
            harness.now,
            dialog,
            Method::Update,
            Headers::new(),
            Vec::new(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    harness.advance_to(Duration::from_secs(32));
    let events = harness.events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::RequestTimedOut { transaction: timed_out, .. }, Event::DialogEnded { reason: DialogEndReason::RequestFailed { status: None }, .. }]
                if *timed_out == transaction
        ),
        "{events:?}"
    );
}

#[test]
fn bye_asked_before_the_ack_waits_for_it() {
    let mut harness = Harness::new();
    let (dialog, tag) = establish(&mut harness, "bye-1");
    let transaction = harness
        .endpoint
        .send_request(harness.now, dialog, Method::Bye, Headers::new(), Vec::new())
        .unwrap_or_else(|error| panic!("{error}"));
    // RFC 3261 §15: no BYE before the ACK of our 2xx.
    assert!(harness.transmits().is_empty());
    harness.udp(&in_dialog("ACK", "z9hG4bKack", "bye-1", 1, &tag));
    let bye = sent_request(&mut harness);
    assert_eq!(bye.method, Method::Bye);
    let events = harness.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::AckReceived { .. },
                Event::DialogEnded {
                    reason: DialogEndReason::LocalBye,
                    ..
                }
            ]
        ),
        "{events:?}"
    );
    harness.udp(&answer(&bye, 200));
    let events = harness.events();
    assert!(
        matches!(events.as_slice(), [Event::ResponseReceived { transaction: answered, .. }] if *answered == transaction),
        "{events:?}"
    );
    let again =
        harness
            .endpoint
            .send_request(harness.now, dialog, Method::Bye, Headers::new(), Vec::new());
    assert!(matches!(again, Err(Error::UnknownDialog)), "{again:?}");
}

#[test]
fn invite_and_bodies_without_content_type_are_refused_by_send_request() {
    let mut harness = Harness::new();
    let (dialog, _) = establish(&mut harness, "refuse-1");
    let invite = harness.endpoint.send_request(
        harness.now,
        dialog,
        Method::Invite,
        Headers::new(),
        Vec::new(),
    );
    assert!(
        matches!(invite, Err(Error::UnsupportedMethod(Method::Invite))),
        "{invite:?}"
    );
    let untyped = harness.endpoint.send_request(
        harness.now,
        dialog,
        Method::Info,
        Headers::new(),
        b"x".to_vec(),
    );
    assert!(
        matches!(untyped, Err(Error::BodyWithoutContentType)),
        "{untyped:?}"
    );
}

#[test]
fn sipp_scenario_call_runs_to_its_end() {
    let xml = read_corpus("sipp/drachtio_uac_siprec_pcap.xml");
    let mut harness = Harness::new();
    let first = messages_from_sipp(&xml, None);
    harness.input(Transport::Udp, &first[0]);
    let transaction = match harness.events().as_slice() {
        [
            Event::IncomingInvite {
                transaction,
                request,
                source,
                transport,
            },
        ] => {
            assert!(String::from_utf8_lossy(&request.body).contains("a=label:a_leg"));
            assert_eq!(*source, common::address(common::SRC));
            assert_eq!(*transport, Transport::Udp);
            *transaction
        }
        other => panic!("expected IncomingInvite, got {other:?}"),
    };
    let sdp =
        b"v=0\r\no=SRS 0 0 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n".to_vec();
    let headers = Headers::new().with("Content-Type", "application/sdp");
    let dialog = harness
        .endpoint
        .respond(harness.now, transaction, 200, headers.clone(), sdp.clone())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no dialog"));
    let responses = harness.responses();
    assert_eq!(
        responses
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        vec![100, 200]
    );
    // SIPp's To has no angle brackets; the tag is appended as a header parameter.
    let to = responses[1]
        .headers
        .to()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(to.uri(), "sip:drachtio:5060");
    let tag = to.tag().unwrap_or_default().to_owned();
    let messages = messages_from_sipp(&xml, Some(&tag));
    assert_eq!(messages.len(), 5, "INVITE, ACK, re-INVITE, ACK, BYE");

    harness.input(Transport::Udp, &messages[1]);
    assert!(matches!(
        harness.events().as_slice(),
        [Event::AckReceived { .. }]
    ));
    harness.input(Transport::Udp, &messages[2]);
    let reinvite = match harness.events().as_slice() {
        [
            Event::InDialogRequest {
                transaction,
                dialog: in_dialog,
                request,
            },
        ] => {
            assert_eq!(*in_dialog, dialog);
            assert!(String::from_utf8_lossy(&request.body).contains("a=inactive"));
            *transaction
        }
        other => panic!("expected the re-INVITE, got {other:?}"),
    };
    harness
        .endpoint
        .respond(harness.now, reinvite, 200, headers, sdp)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        harness
            .responses()
            .iter()
            .map(|response| response.status)
            .collect::<Vec<_>>(),
        vec![100, 200]
    );
    harness.input(Transport::Udp, &messages[3]);
    assert!(matches!(
        harness.events().as_slice(),
        [Event::AckReceived { .. }]
    ));
    // The scenario's BYE reuses CSeq 2 (equal, not lower: in order per RFC 3261 §12.2.2).
    harness.advance_to(Duration::from_secs(3));
    harness.input(Transport::Udp, &messages[4]);
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
}
