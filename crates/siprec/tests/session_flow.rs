//! The recording server driven with raw SIP bytes on a virtual clock: set-up, the consent
//! gate, refusals, pause/resume, metadata updates, snapshot requests and every way a session
//! ends.

#[path = "session_harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use model::{ConsentKind, ConsentPolicy, EvidenceSource};
use onrecord_siprec::{
    EndReason, PauseReason, SessionEvent, SessionPhase, StreamActivity, UNIDENTIFIED_PARTICIPANT,
};
use sip::{Message, Transport};

fn covered_call() -> (String, Vec<u8>) {
    multipart(
        &two_stream_sdp("sendonly"),
        &two_party_metadata(
            Some(&consent_element("verbal", "ivr-consent-7")),
            Some(&consent_element(
                "announcement",
                "prompt-recording-notice-v2",
            )),
        ),
    )
}

fn refusal(events: &[SessionEvent]) -> &onrecord_siprec::Refusal {
    events
        .iter()
        .find_map(|event| match event {
            SessionEvent::Refused(refusal) => Some(refusal.as_ref()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Refused event in {events:?}"))
}

#[test]
fn full_call_invite_ok_ack_bye_reports_start_and_end() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, false, false)));
    let (content_type, body) = covered_call();
    harness.udp(&invite("call-1", SIPREC, &content_type, &body));
    let responses = harness.responses();
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![100, 200]
    );
    let ok = &responses[1];
    // RFC 7866 §6.2: the SRS MUST include +sip.srs in the Contact.
    let contact = ok.headers.first("Contact").unwrap_or_default();
    assert!(contact.contains(";+sip.srs"), "{contact}");
    assert_eq!(ok.headers.first("Require"), Some("siprec"));
    assert_eq!(ok.headers.first("Content-Type"), Some("application/sdp"));
    let answer = String::from_utf8_lossy(&ok.body).to_string();
    assert_eq!(answer.matches("a=recvonly").count(), 2, "{answer}");
    assert!(answer.contains("m=audio 40000 RTP/AVP 0 101"), "{answer}");
    assert!(answer.contains("m=audio 40002 RTP/AVP 0"), "{answer}");
    assert!(answer.contains("a=rtcp:40001"), "{answer}");

    let events = harness.events();
    let [SessionEvent::Started(started)] = events.as_slice() else {
        panic!("expected one Started, got {events:?}");
    };
    assert_eq!(started.call_id, "call-1");
    assert_eq!(started.tenant.as_str(), "acme");
    assert_eq!(started.client, "pbx-1");
    assert_eq!(started.started_at, harness.wall);
    assert!(!started.legacy);
    let labels: Vec<&str> = started.streams.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, vec!["1", "2"]);
    let first = &started.streams[0];
    assert_eq!((first.local_port, first.local_rtcp_port), (40_000, 40_001));
    assert_eq!(first.remote, Some(address("192.0.2.1:20000")));
    assert_eq!(first.telephone_event, Some(101));
    assert_eq!(first.codecs[0].encoding_name, "PCMU");
    assert_eq!(first.activity, StreamActivity::Recording);
    assert_eq!(first.senders[0].as_str(), ALICE);
    let alice = &started.participants[0];
    assert_eq!(
        alice.address.dangerous_reveal(),
        "sip:alice@atlanta.example.com"
    );
    assert_eq!(alice.sends_on[0].as_str(), "1");
    // The consent extension in the metadata is the evidence stored with the recording.
    assert_eq!(alice.evidence[0].kind, ConsentKind::Verbal);
    assert_eq!(alice.evidence[0].reference, "ivr-consent-7");
    assert_eq!(alice.evidence[0].source, EvidenceSource::CallMetadata);
    assert!(started.metadata.is_some());
    assert_eq!(harness.server.allocator().in_use(), vec![40_000, 40_002]);

    let tag = to_tag(ok);
    let session = started.session;
    assert_eq!(harness.server.phase(session), Some(SessionPhase::Answering));
    harness.udp(&ack("call-1", 1, &tag));
    assert_eq!(harness.server.phase(session), Some(SessionPhase::Recording));

    harness.advance(Duration::from_secs(30));
    harness.udp(&bye("call-1", 2, &tag));
    let responses = harness.responses();
    assert_eq!(final_response(&responses).status, 200);
    let events = harness.events();
    assert_eq!(
        events,
        vec![SessionEvent::SessionEnded {
            session,
            reason: EndReason::Bye,
            ended_at: harness.wall,
        }]
    );
    assert!(harness.server.allocator().in_use().is_empty());
    assert_eq!(harness.server.session_count(), 0);
}

#[test]
fn unknown_client_is_refused_403_with_a_warning() {
    let mut harness = Harness::new(None);
    let (content_type, body) = covered_call();
    harness.udp(&invite("call-unknown", SIPREC, &content_type, &body));
    let responses = harness.responses();
    let refused = final_response(&responses);
    assert_eq!(refused.status, 403);
    assert_eq!(warning_text(refused), "recording client not allowed");
    let events = harness.events();
    let refusal = refusal(&events);
    assert_eq!(refusal.code, "client-not-allowed");
    assert_eq!(refusal.client, None);
    assert_eq!(refusal.call_id, "call-unknown");
    assert!(harness.server.allocator().in_use().is_empty());
}

#[test]
fn participant_without_consent_is_refused_403_with_the_reason_and_no_ports() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, false, false)));
    let (content_type, body) = multipart(
        &two_stream_sdp("sendonly"),
        &two_party_metadata(Some(&consent_element("verbal", "ivr-consent-7")), None),
    );
    harness.udp(&invite("call-no-consent", SIPREC, &content_type, &body));
    let responses = harness.responses();
    let refused = final_response(&responses);
    assert_eq!(refused.status, 403);
    let warning = warning_text(refused);
    assert!(
        warning.starts_with("participant 2 (unspecified) has no usable consent evidence"),
        "{warning}"
    );
    assert!(
        !warning.contains("bob"),
        "personal data in a Warning: {warning}"
    );
    let events = harness.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let refusal = refusal(&events);
    assert_eq!(refusal.code, "participant-without-evidence");
    assert_eq!(refusal.client.as_deref(), Some("pbx-1"));
    assert_eq!(refusal.tenant.as_ref().map(|t| t.as_str()), Some("acme"));
    assert!(harness.server.allocator().in_use().is_empty());
    assert_eq!(harness.server.session_count(), 0);
}

#[test]
fn one_party_policy_records_with_one_covered_participant() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::OneParty, false, false)));
    let (content_type, body) = multipart(
        &two_stream_sdp("sendonly"),
        &two_party_metadata(Some(&consent_element("verbal", "ivr-consent-7")), None),
    );
    let (started, _) = harness.establish(&invite("call-one-party", SIPREC, &content_type, &body));
    assert!(started.participants[0].is_covered());
    assert!(!started.participants[1].is_covered());
    assert!(
        started
            .streams
            .iter()
            .all(|stream| stream.activity == StreamActivity::Recording)
    );
}

#[test]
fn client_attestation_covers_every_participant() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (content_type, body) =
        multipart(&two_stream_sdp("sendonly"), &two_party_metadata(None, None));
    let (started, _) = harness.establish(&invite("call-attested", SIPREC, &content_type, &body));
    for participant in &started.participants {
        assert_eq!(participant.evidence.len(), 1);
        assert_eq!(
            participant.evidence[0].source,
            EvidenceSource::ClientAttestation
        );
        assert_eq!(
            participant.evidence[0].reference,
            "prompt-recording-notice-v2"
        );
    }
}

#[test]
fn consent_time_after_the_decision_does_not_count() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, false, false)));
    let late = "<consent xmlns=\"urn:onrecord:params:xml:ns:consent:1\" kind=\"verbal\" \
                at=\"2026-11-28T11:00:00Z\" reference=\"ivr-consent-7\"/>";
    let (content_type, body) = multipart(
        &two_stream_sdp("sendonly"),
        &two_party_metadata(Some(late), Some(&consent_element("verbal", "ivr-8"))),
    );
    harness.udp(&invite("call-late", SIPREC, &content_type, &body));
    let responses = harness.responses();
    let refused = final_response(&responses);
    assert_eq!(refused.status, 403);
    assert!(warning_text(refused).contains("timestamped after the call ended"));
}

/// Establishes a covered two-party call and ACKs it; returns the session and our tag.
fn recording_call(
    harness: &mut Harness,
    call_id: &str,
    metadata: &str,
) -> (model::RecordingId, String) {
    let (content_type, body) = multipart(&two_stream_sdp("sendonly"), metadata);
    let (started, tag) = harness.establish(&invite(call_id, SIPREC, &content_type, &body));
    harness.udp(&ack(call_id, 1, &tag));
    (started.session, tag)
}

fn reinvite(call_id: &str, cseq: u32, tag: &str, sdp: &str, metadata: Option<&str>) -> Vec<u8> {
    match metadata {
        Some(metadata) => {
            let (content_type, body) = multipart(sdp, metadata);
            request(
                "INVITE",
                call_id,
                cseq,
                Some(tag),
                SIPREC,
                Some(&content_type),
                &body,
            )
        }
        None => request(
            "INVITE",
            call_id,
            cseq,
            Some(tag),
            SIPREC,
            Some("application/sdp"),
            sdp.as_bytes(),
        ),
    }
}

fn update_metadata(call_id: &str, cseq: u32, tag: &str, metadata: &str) -> Vec<u8> {
    request(
        "UPDATE",
        call_id,
        cseq,
        Some(tag),
        SIPREC,
        Some("application/rs-metadata+xml"),
        metadata.as_bytes(),
    )
}

fn pauses(events: &[SessionEvent]) -> Vec<(String, Option<PauseReason>)> {
    events
        .iter()
        .filter_map(|event| match event {
            SessionEvent::StreamPaused { label, reason, .. } => {
                Some((label.to_string(), Some(*reason)))
            }
            SessionEvent::StreamResumed { label, .. } => Some((label.to_string(), None)),
            _ => None,
        })
        .collect()
}

#[test]
fn inactive_offer_pauses_and_sendonly_offer_resumes_on_the_same_ports() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (session, tag) =
        recording_call(&mut harness, "call-pause", &two_party_metadata(None, None));
    harness.events();
    // RFC 7866 §7.1.1.1: pause is a re-offer with a=inactive.
    harness.udp(&reinvite(
        "call-pause",
        2,
        &tag,
        &two_stream_sdp("inactive"),
        None,
    ));
    let responses = harness.responses();
    let ok = final_response(&responses);
    assert_eq!(ok.status, 200);
    let answer = String::from_utf8_lossy(&ok.body).to_string();
    assert_eq!(answer.matches("a=inactive").count(), 2, "{answer}");
    assert!(answer.contains("m=audio 40000 "), "{answer}");
    assert_eq!(
        pauses(&harness.events()),
        vec![
            ("1".to_owned(), Some(PauseReason::Pause)),
            ("2".to_owned(), Some(PauseReason::Pause))
        ]
    );
    harness.udp(&ack("call-pause", 2, &tag));
    harness.udp(&reinvite(
        "call-pause",
        3,
        &tag,
        &two_stream_sdp("sendonly"),
        None,
    ));
    let responses = harness.responses();
    let answer = String::from_utf8_lossy(&final_response(&responses).body).to_string();
    assert!(answer.contains("m=audio 40000 RTP/AVP 0 101"), "{answer}");
    assert!(answer.contains("m=audio 40002 RTP/AVP 0"), "{answer}");
    assert_eq!(
        pauses(&harness.events()),
        vec![("1".to_owned(), None), ("2".to_owned(), None)]
    );
    assert_eq!(harness.server.allocator().in_use(), vec![40_000, 40_002]);
    let streams = harness.server.streams(session).unwrap_or_default();
    assert!(
        streams
            .iter()
            .all(|s| s.activity == StreamActivity::Recording)
    );
}

#[test]
fn new_m_line_in_a_reoffer_gets_a_new_port_and_a_rejected_one_gives_its_port_back() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (_, tag) = recording_call(&mut harness, "call-lines", &two_party_metadata(None, None));
    harness.events();
    let three = format!(
        "{}m=audio 20004 RTP/AVP 8\r\na=sendonly\r\na=label:3\r\n",
        two_stream_sdp("sendonly")
    );
    harness.udp(&reinvite("call-lines", 2, &tag, &three, None));
    harness.responses();
    let events = harness.events();
    let streams = events
        .iter()
        .find_map(|event| match event {
            SessionEvent::StreamsChanged { streams, .. } => Some(streams.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StreamsChanged in {events:?}"));
    let ports: Vec<u16> = streams.iter().map(|s| s.local_port).collect();
    assert_eq!(ports, vec![40_000, 40_002, 40_004]);
    assert_eq!(streams[2].codecs[0].encoding_name, "PCMA");
    harness.udp(&ack("call-lines", 2, &tag));
    let second_rejected = three.replace("m=audio 20002", "m=audio 0");
    harness.udp(&reinvite("call-lines", 3, &tag, &second_rejected, None));
    let responses = harness.responses();
    assert!(String::from_utf8_lossy(&final_response(&responses).body).contains("m=audio 0 "));
    assert_eq!(harness.server.allocator().in_use(), vec![40_000, 40_004]);
}

#[test]
fn partial_update_merges_into_the_snapshot() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (session, tag) =
        recording_call(&mut harness, "call-merge", &two_party_metadata(None, None));
    harness.events();
    let update = partial(&format!(
        "<participant participant_id=\"{BOB}\"><nameID aor=\"sip:bob@biloxi.example.com\"><name>Bob B</name></nameID></participant>"
    ));
    harness.udp(&update_metadata("call-merge", 2, &tag, &update));
    let responses = harness.responses();
    let ok = final_response(&responses);
    assert_eq!(ok.status, 200);
    assert!(ok.body.is_empty());
    let events = harness.events();
    let [
        SessionEvent::MetadataUpdated {
            session: updated,
            metadata,
            participants,
        },
    ] = events.as_slice()
    else {
        panic!("expected one MetadataUpdated, got {events:?}");
    };
    assert_eq!(*updated, session);
    // RFC 7865 §8.2: the update replaced Bob's name and kept everything else.
    assert_eq!(metadata.participants.len(), 2);
    assert_eq!(metadata.streams.len(), 2);
    assert_eq!(
        participants[1]
            .name
            .as_ref()
            .map(|name| name.dangerous_reveal().as_str()),
        Some("Bob B")
    );
}

#[test]
fn partial_update_before_any_snapshot_is_answered_and_a_snapshot_requested() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    // A SIPREC INVITE with SDP only: metadata is to follow (RFC 7866 §9.1).
    let sdp = two_stream_sdp("sendonly");
    let (started, tag) = harness.establish(&invite(
        "call-snapshot",
        SIPREC,
        "application/sdp",
        sdp.as_bytes(),
    ));
    assert_eq!(
        started.participants[0].id.as_str(),
        UNIDENTIFIED_PARTICIPANT
    );
    harness.udp(&ack("call-snapshot", 1, &tag));
    harness.udp(&update_metadata("call-snapshot", 2, &tag, &partial("")));
    let messages = harness.messages();
    let statuses: Vec<u16> = messages
        .iter()
        .filter_map(|message| match message {
            Message::Response(response) => Some(response.status),
            Message::Request(_) => None,
        })
        .collect();
    assert_eq!(statuses, vec![200]);
    let requests: Vec<_> = messages
        .iter()
        .filter_map(|message| match message {
            Message::Request(request) => Some(request),
            Message::Response(_) => None,
        })
        .collect();
    let [update] = requests.as_slice() else {
        panic!("expected our UPDATE, got {requests:?}");
    };
    // RFC 7866 §9.2: an UPDATE of its own, recording-session disposition, no SDP.
    assert_eq!(update.method, sip::Method::Update);
    assert_eq!(
        update.headers.first("Content-Type"),
        Some("application/rs-metadata")
    );
    assert_eq!(
        update.headers.first("Content-Disposition"),
        Some("recording-session")
    );
    assert!(String::from_utf8_lossy(&update.body).contains("<requestsnapshot"));
    assert_eq!(
        harness.events(),
        vec![SessionEvent::SnapshotRequested {
            session: started.session
        }]
    );
    // The driver may ask again; this one goes out too.
    harness
        .server
        .request_snapshot(harness.now, harness.wall, started.session)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(harness.messages().len(), 1);
}

#[test]
fn participant_joining_without_evidence_pauses_their_stream_until_evidence_arrives() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, false, false)));
    let metadata = two_party_metadata(
        Some(&consent_element("verbal", "ivr-1")),
        Some(&consent_element("verbal", "ivr-2")),
    );
    let (session, tag) = recording_call(&mut harness, "call-join", &metadata);
    harness.events();
    let join = |consent: Option<&str>| {
        partial(&format!(
            "{}<participantsessionassoc participant_id=\"{CAROL}\" session_id=\"{SESSION}\"><associate-time>2026-11-28T10:01:00Z</associate-time></participantsessionassoc>\
             <participantstreamassoc participant_id=\"{CAROL}\"><send>{STREAM_2}</send><recv>{STREAM_1}</recv></participantstreamassoc>",
            participant(CAROL, "sip:carol@example.com", consent)
        ))
    };
    harness.udp(&update_metadata("call-join", 2, &tag, &join(None)));
    assert_eq!(final_response(&harness.responses()).status, 200);
    let events = harness.events();
    assert_eq!(
        pauses(&events),
        vec![("2".to_owned(), Some(PauseReason::NoConsent))]
    );
    let streams = harness.server.streams(session).unwrap_or_default();
    assert_eq!(streams[0].activity, StreamActivity::Recording);
    harness.udp(&update_metadata(
        "call-join",
        3,
        &tag,
        &join(Some(&consent_element("dtmf", "ivr-consent-9"))),
    ));
    harness.responses();
    assert_eq!(pauses(&harness.events()), vec![("2".to_owned(), None)]);
}

#[test]
fn one_party_tenant_keeps_recording_when_a_participant_joins_without_evidence() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::OneParty, false, false)));
    let metadata = two_party_metadata(Some(&consent_element("verbal", "ivr-1")), None);
    let (_, tag) = recording_call(&mut harness, "call-join-one", &metadata);
    harness.events();
    let join = partial(&format!(
        "{}<participantstreamassoc participant_id=\"{CAROL}\"><send>{STREAM_2}</send></participantstreamassoc>",
        participant(CAROL, "sip:carol@example.com", None)
    ));
    harness.udp(&update_metadata("call-join-one", 2, &tag, &join));
    harness.responses();
    assert!(pauses(&harness.events()).is_empty());
}

#[test]
fn recordpref_off_pauses_the_stream_of_that_participant() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (_, tag) = recording_call(&mut harness, "call-pref", &two_party_metadata(None, None));
    harness.events();
    let sdp = two_stream_sdp_with("sendonly", "a=recordpref:off\r\n");
    harness.udp(&reinvite("call-pref", 2, &tag, &sdp, None));
    assert_eq!(final_response(&harness.responses()).status, 200);
    assert_eq!(
        pauses(&harness.events()),
        vec![("2".to_owned(), Some(PauseReason::NoConsent))]
    );
}

#[test]
fn driver_ends_a_session_with_a_bye() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (session, _) = recording_call(&mut harness, "call-end", &two_party_metadata(None, None));
    harness.events();
    harness
        .server
        .end_session(harness.now, harness.wall, session, EndReason::MediaTimeout)
        .unwrap_or_else(|error| panic!("{error}"));
    let messages = harness.messages();
    assert!(matches!(
        messages.as_slice(),
        [Message::Request(request)] if request.method == sip::Method::Bye
    ));
    assert_eq!(
        harness.events(),
        vec![SessionEvent::SessionEnded {
            session,
            reason: EndReason::MediaTimeout,
            ended_at: harness.wall,
        }]
    );
    assert!(harness.server.allocator().in_use().is_empty());
}

#[test]
fn cancel_before_the_answer_gets_487_and_nothing_is_recorded() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (content_type, body) =
        multipart(&two_stream_sdp("sendonly"), &two_party_metadata(None, None));
    let invite = invite("call-cancel", SIPREC, &content_type, &body);
    let mut bytes = String::from_utf8_lossy(&invite)
        .replacen("SIP/2.0/UDP", "SIP/2.0/TCP", 1)
        .into_bytes();
    // The CANCEL arrives in the same read as the INVITE (a stream transport), before the
    // server answered.
    let cancel = format!(
        "CANCEL sip:srs@{SERVER_HOST} SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-call-cancel-1-INVITE\r\n\
         From: <sip:src@example.com>;tag=src-call-cancel\r\nTo: <sip:srs@{SERVER_HOST}>\r\nCall-ID: call-cancel\r\n\
         CSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    bytes.extend_from_slice(cancel.as_bytes());
    harness.input(Transport::Tcp, &bytes);
    let finals: Vec<(u16, String)> = harness
        .responses()
        .iter()
        .filter(|response| response.status >= 200)
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
        finals,
        vec![(200, "CANCEL".to_owned()), (487, "INVITE".to_owned())]
    );
    assert!(harness.events().is_empty());
    assert!(harness.server.allocator().in_use().is_empty());
    assert_eq!(harness.server.session_count(), 0);
}

#[test]
fn missing_ack_tears_the_session_down() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (content_type, body) =
        multipart(&two_stream_sdp("sendonly"), &two_party_metadata(None, None));
    let (started, _) = harness.establish(&invite("call-no-ack", SIPREC, &content_type, &body));
    harness.advance(Duration::from_secs(40));
    let messages = harness.messages();
    assert!(messages.iter().any(
        |message| matches!(message, Message::Request(request) if request.method == sip::Method::Bye)
    ));
    let events = harness.events();
    assert!(
        matches!(
            events.as_slice(),
            [SessionEvent::SessionEnded { session, reason: EndReason::AckTimeout, .. }] if *session == started.session
        ),
        "{events:?}"
    );
    assert!(harness.server.allocator().in_use().is_empty());
}

#[test]
fn session_limit_answers_503_with_retry_after() {
    let mut harness = Harness::with_limit(Some(client(ConsentPolicy::AllParty, true, false)), 1);
    let (content_type, body) =
        multipart(&two_stream_sdp("sendonly"), &two_party_metadata(None, None));
    harness.establish(&invite("call-a", SIPREC, &content_type, &body));
    harness.udp(&invite("call-b", SIPREC, &content_type, &body));
    let responses = harness.responses();
    let busy = final_response(&responses);
    assert_eq!(busy.status, 503);
    assert_eq!(busy.headers.first("Retry-After"), Some("5"));
    assert_eq!(refusal(&harness.events()).code, "at-capacity");
    assert_eq!(harness.server.allocator().in_use(), vec![40_000, 40_002]);
}

#[test]
fn legacy_dialect_is_refused_or_accepted_by_client_policy() {
    let (content_type, body) =
        multipart(&two_stream_sdp("sendonly"), &two_party_metadata(None, None));
    let mut strict = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    strict.udp(&invite("call-legacy", LEGACY, &content_type, &body));
    let responses = strict.responses();
    let refused = final_response(&responses);
    assert_eq!(refused.status, 403);
    assert!(warning_text(refused).contains("legacy recording dialect"));
    assert_eq!(
        refusal(&strict.events()).code,
        "legacy-dialect-not-accepted"
    );

    let mut lenient = Harness::new(Some(client(ConsentPolicy::AllParty, true, true)));
    lenient.udp(&invite("call-legacy", LEGACY, &content_type, &body));
    let responses = lenient.responses();
    let ok = final_response(&responses);
    assert_eq!(ok.status, 200);
    // Not a SIPREC session: no Require: siprec in the answer.
    assert_eq!(ok.headers.first("Require"), None);
    assert!(
        ok.headers
            .first("Contact")
            .unwrap_or_default()
            .contains("+sip.srs")
    );
    let events = lenient.events();
    assert!(matches!(events.as_slice(), [SessionEvent::Started(started)] if started.legacy));
}

#[test]
fn plain_sdp_invite_needs_legacy_policy_and_an_attestation() {
    let sdp = two_stream_sdp("sendonly");
    let mut strict = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    strict.udp(&invite(
        "call-plain",
        LEGACY,
        "application/sdp",
        sdp.as_bytes(),
    ));
    assert_eq!(final_response(&strict.responses()).status, 488);
    assert_eq!(refusal(&strict.events()).code, "not-a-recording-session");

    let mut unattested = Harness::new(Some(client(ConsentPolicy::AllParty, false, true)));
    unattested.udp(&invite(
        "call-plain",
        LEGACY,
        "application/sdp",
        sdp.as_bytes(),
    ));
    assert_eq!(final_response(&unattested.responses()).status, 403);

    let mut attested = Harness::new(Some(client(ConsentPolicy::AllParty, true, true)));
    let (started, _) = attested.establish(&invite(
        "call-plain",
        LEGACY,
        "application/sdp",
        sdp.as_bytes(),
    ));
    assert_eq!(started.participants.len(), 1);
    assert_eq!(
        started.participants[0].evidence[0].source,
        EvidenceSource::ClientAttestation
    );
}

#[test]
fn unreadable_bodies_are_refused_with_a_status_per_cause() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (content_type, body) = multipart(&two_stream_sdp("sendonly"), "<recording><unclosed>");
    harness.udp(&invite("call-bad-xml", SIPREC, &content_type, &body));
    let responses = harness.responses();
    let refused = final_response(&responses);
    assert_eq!(refused.status, 400);
    assert!(warning_text(refused).starts_with("unreadable recording metadata"));

    harness.udp(&invite("call-bad-type", SIPREC, "text/plain", b"hello"));
    assert_eq!(final_response(&harness.responses()).status, 415);

    let video_only = "v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 20000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=label:1\r\n";
    harness.udp(&invite(
        "call-video",
        SIPREC,
        "application/sdp",
        video_only.as_bytes(),
    ));
    assert_eq!(final_response(&harness.responses()).status, 488);
    let codes: Vec<&str> = harness
        .events()
        .iter()
        .filter_map(|event| match event {
            SessionEvent::Refused(refusal) => Some(refusal.code),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            "malformed-metadata",
            "unsupported-body",
            "no-recordable-stream"
        ]
    );
    assert!(harness.server.allocator().in_use().is_empty());
}

#[test]
fn options_are_answered_and_info_is_acknowledged_and_ignored() {
    let mut harness = Harness::new(None);
    harness.udp(&request(
        "OPTIONS",
        "call-options",
        1,
        None,
        LEGACY,
        None,
        b"",
    ));
    let responses = harness.responses();
    assert_eq!(final_response(&responses).status, 200);
    assert!(harness.events().is_empty());

    harness.client = Some(client(ConsentPolicy::AllParty, true, false));
    let (_, tag) = recording_call(&mut harness, "call-info", &two_party_metadata(None, None));
    harness.events();
    harness.udp(&request(
        "INFO",
        "call-info",
        2,
        Some(&tag),
        SIPREC,
        Some("application/media_control+xml"),
        b"<media_control/>",
    ));
    assert_eq!(final_response(&harness.responses()).status, 200);
    assert!(harness.events().is_empty());
}

#[test]
fn bad_metadata_in_a_reinvite_is_refused_and_the_session_goes_on() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (session, tag) = recording_call(
        &mut harness,
        "call-bad-update",
        &two_party_metadata(None, None),
    );
    harness.events();
    harness.udp(&update_metadata("call-bad-update", 2, &tag, "<recording"));
    assert_eq!(final_response(&harness.responses()).status, 400);
    let events = harness.events();
    assert_eq!(refusal(&events).session, Some(session));
    assert_eq!(harness.server.phase(session), Some(SessionPhase::Recording));
    assert_eq!(harness.server.allocator().in_use(), vec![40_000, 40_002]);
}
