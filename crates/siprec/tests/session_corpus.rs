//! The recording server against the SIPREC corpus: the RFC 8068 flows (basic call,
//! hold/resume, transfer), the INVITE the drachtio SIPp scenario sends, and every vendor
//! body, whose outcome is pinned in `testdata/siprec/session/vendor-outcomes.json`
//! (regenerate with `ONRECORD_UPDATE_GOLDEN=1`).

#[path = "session_harness.rs"]
mod harness;

#[allow(dead_code)]
mod extract;

use std::path::{Path, PathBuf};

use harness::*;
use model::{ConsentPolicy, RecordingId};
use onrecord_siprec::{PauseReason, SessionEvent, SessionPhase, StreamActivity};
use serde_json::{Value, json};

fn rfc_invite(file: &str, index: usize, call_id: &str, cseq: u32, to_tag: Option<&str>) -> Vec<u8> {
    let messages = extract::rfc_messages(&read_corpus(&format!("rfc/{file}")));
    let message = messages
        .get(index)
        .unwrap_or_else(|| panic!("{file} has no message {index}"));
    assert!(
        message.has_src_feature_tag && message.requires_siprec,
        "{file}"
    );
    request(
        "INVITE",
        call_id,
        cseq,
        to_tag,
        SIPREC,
        Some(&message.content_type),
        &message.body,
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

/// The RFC 8068 basic call (example 1), established and acknowledged.
fn basic_call(harness: &mut Harness, call_id: &str) -> (RecordingId, String) {
    let invite = rfc_invite("rfc8068-3.2.1-basic-call.txt", 0, call_id, 1, None);
    let (started, tag) = harness.establish(&invite);
    // Audio lines 96 and 98 are recorded; the video lines are refused with port 0.
    let labels: Vec<&str> = started.streams.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, vec!["96", "98"]);
    assert_eq!(started.participants.len(), 2);
    assert_eq!(started.streams[0].senders[0].as_str(), ALICE);
    assert_eq!(started.streams[1].senders[0].as_str(), BOB);
    harness.udp(&ack(call_id, 1, &tag));
    (started.session, tag)
}

#[test]
fn rfc8068_hold_pauses_and_resume_resumes_the_held_stream() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (session, tag) = basic_call(&mut harness, "call-8068-hold");
    harness.events();
    let hold = rfc_invite(
        "rfc8068-3.2.2-hold-resume.txt",
        0,
        "call-8068-hold",
        2,
        Some(&tag),
    );
    harness.udp(&hold);
    assert_eq!(final_response(&harness.responses()).status, 200);
    let events = harness.events();
    assert!(matches!(
        events.first(),
        Some(SessionEvent::MetadataUpdated { .. })
    ));
    // RFC 7865 §6.8: Alice no longer sends, so the stream she sent on is held.
    assert_eq!(
        pauses(&events),
        vec![("96".to_owned(), Some(PauseReason::Hold))]
    );
    harness.udp(&ack("call-8068-hold", 2, &tag));
    let resume = rfc_invite(
        "rfc8068-3.2.2-hold-resume.txt",
        1,
        "call-8068-hold",
        3,
        Some(&tag),
    );
    harness.udp(&resume);
    assert_eq!(final_response(&harness.responses()).status, 200);
    assert_eq!(pauses(&harness.events()), vec![("96".to_owned(), None)]);
    assert_eq!(harness.server.phase(session), Some(SessionPhase::Recording));
}

#[test]
fn rfc8068_transfer_by_reinvite_replaces_the_participant_and_re_resolves_labels() {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    let (session, tag) = basic_call(&mut harness, "call-8068-transfer");
    harness.events();
    let transfer = rfc_invite(
        "rfc8068-3.2.3-transfer-reinvite-refer.txt",
        0,
        "call-8068-transfer",
        2,
        Some(&tag),
    );
    harness.udp(&transfer);
    assert_eq!(final_response(&harness.responses()).status, 200);
    let events = harness.events();
    let participants = events
        .iter()
        .find_map(|event| match event {
            SessionEvent::MetadataUpdated { participants, .. } => Some(participants.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no MetadataUpdated in {events:?}"));
    let presence: Vec<(&str, bool)> = participants
        .iter()
        .map(|participant| (participant.id.as_str(), participant.present))
        .collect();
    assert_eq!(presence, vec![(ALICE, false), (BOB, true), (CAROL, true)]);
    // Carol is covered by the client's attestation like everyone else.
    assert!(participants[2].is_covered());
    harness.udp(&ack("call-8068-transfer", 2, &tag));

    // The RFC elides Carol's <stream> elements; with them, label 96 resolves to the stream
    // Carol sends on.
    let carol_stream = "60JAJm9UTvik0Ltlih/Gzw==";
    let streams = partial(&format!(
        "<stream stream_id=\"{carol_stream}\" session_id=\"{SESSION}\"><label>96</label></stream>"
    ));
    harness.udp(&request(
        "UPDATE",
        "call-8068-transfer",
        3,
        Some(&tag),
        SIPREC,
        Some("application/rs-metadata+xml"),
        streams.as_bytes(),
    ));
    assert_eq!(final_response(&harness.responses()).status, 200);
    let events = harness.events();
    let changed = events
        .iter()
        .find_map(|event| match event {
            SessionEvent::StreamsChanged { streams, .. } => Some(streams.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StreamsChanged in {events:?}"));
    assert_eq!(
        changed[0].stream.as_ref().map(|id| id.as_str()),
        Some(carol_stream)
    );
    assert_eq!(changed[0].senders[0].as_str(), CAROL);
    assert_eq!(changed[0].local_port, 40_000);
    let streams = harness.server.streams(session).unwrap_or_default();
    assert!(
        streams
            .iter()
            .all(|s| s.activity == StreamActivity::Recording)
    );
}

#[test]
fn drachtio_sipp_invite_is_accepted_from_a_legacy_client_with_an_attestation() {
    let scenario = read_corpus("sipp/drachtio_uac_siprec_pcap.xml");
    let messages = sipp_messages(&scenario, None);
    // It carries metadata but neither +sip.src nor Require: siprec: a legacy dialect.
    let mut strict = Harness::new(Some(client(ConsentPolicy::AllParty, true, false)));
    strict.udp(&messages[0]);
    assert_eq!(final_response(&strict.responses()).status, 403);

    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, true, true)));
    let (started, tag) = harness.establish(&messages[0]);
    assert!(started.legacy);
    let labels: Vec<&str> = started.streams.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, vec!["a_leg", "b_leg"]);
    assert_eq!(started.streams[0].remote, Some(address("192.0.2.1:6000")));
    assert_eq!(started.streams[0].codecs[0].encoding_name, "PCMA");
    assert_eq!(started.participants.len(), 2);

    let messages = sipp_messages(&scenario, Some(&tag));
    let [_, first_ack, reinvite, second_ack, bye] = messages.as_slice() else {
        panic!("the scenario sends five messages, got {}", messages.len());
    };
    harness.udp(first_ack);
    assert_eq!(
        harness.server.phase(started.session),
        Some(SessionPhase::Recording)
    );
    harness.udp(reinvite);
    assert_eq!(final_response(&harness.responses()).status, 200);
    assert_eq!(
        pauses(&harness.events()),
        vec![
            ("a_leg".to_owned(), Some(PauseReason::Pause)),
            ("b_leg".to_owned(), Some(PauseReason::Pause))
        ]
    );
    harness.udp(second_ack);
    harness.udp(bye);
    assert_eq!(final_response(&harness.responses()).status, 200);
    assert!(matches!(
        harness.events().as_slice(),
        [SessionEvent::SessionEnded {
            reason: onrecord_siprec::EndReason::Bye,
            ..
        }]
    ));
}

fn vendor_files() -> Vec<PathBuf> {
    let directory = corpus_path("vendors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("reading {}: {error}", directory.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "vendor corpus has only {} files",
        files.len()
    );
    files
}

/// What the server did with one vendor INVITE body.
fn vendor_outcome(name: &str, message: &extract::Message, attested: bool) -> Value {
    let mut harness = Harness::new(Some(client(ConsentPolicy::AllParty, attested, true)));
    harness.udp(&invite(name, SIPREC, &message.content_type, &message.body));
    let responses = harness.responses();
    let answer = final_response(&responses);
    let events = harness.events();
    match events.as_slice() {
        [SessionEvent::Started(started)] => {
            assert_eq!(answer.status, 200, "{name}");
            assert!(
                !started.streams.is_empty(),
                "{name}: accepted without streams"
            );
            json!({
                "status": 200,
                "streams": started.streams.iter().map(|stream| json!({
                    "label": stream.label.as_str(),
                    "codecs": stream.codecs.iter().map(|codec| codec.encoding_name.clone()).collect::<Vec<_>>(),
                    "senders": stream.senders.len(),
                    "activity": format!("{:?}", stream.activity),
                })).collect::<Vec<_>>(),
                "participants": started.participants.len(),
            })
        }
        [SessionEvent::Refused(refusal)] => {
            assert!(answer.status >= 400, "{name}");
            assert_eq!(warning_text(answer), refusal.message, "{name}");
            assert!(
                !refusal.message.is_empty(),
                "{name}: refusal without a reason"
            );
            json!({ "status": answer.status, "code": refusal.code, "warning": refusal.message })
        }
        other => panic!("{name}: expected one Started or Refused, got {other:?}"),
    }
}

#[test]
fn every_vendor_invite_is_accepted_with_labelled_streams_or_refused_with_a_reason() {
    let mut outcomes = serde_json::Map::new();
    for file in vendor_files() {
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("reading {}: {error}", file.display()));
        for (index, message) in extract::vendor_messages(&text).iter().enumerate() {
            let key = format!("{name}#{index}");
            let call_id = key.replace(['#', '.'], "-");
            // With the client's attestation every participant is covered; without it the
            // vendors' metadata carries no evidence, so an all-party tenant refuses.
            outcomes.insert(
                key,
                json!({
                    "attested": vendor_outcome(&call_id, message, true),
                    "unattested": vendor_outcome(&call_id, message, false),
                }),
            );
        }
    }
    let accepted = outcomes
        .values()
        .filter(|outcome| outcome["attested"]["status"] == 200)
        .count();
    assert!(
        accepted * 2 > outcomes.len(),
        "only {accepted} of {} vendor INVITEs accepted",
        outcomes.len()
    );
    assert!(
        outcomes
            .values()
            .all(|outcome| outcome["unattested"]["status"] == 403),
        "a vendor INVITE without consent evidence was not refused"
    );
    check_golden(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/siprec/session/vendor-outcomes.json"),
        &Value::Object(outcomes),
    );
}

fn check_golden(path: &Path, actual: &Value) {
    let rendered =
        serde_json::to_string_pretty(actual).unwrap_or_else(|error| panic!("{error}")) + "\n";
    if std::env::var_os("ONRECORD_UPDATE_GOLDEN").is_some() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
        }
        std::fs::write(path, &rendered).unwrap_or_else(|error| panic!("{error}"));
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|error| {
        panic!(
            "golden file {} is missing ({error}); run with ONRECORD_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(expected, rendered, "golden {} differs", path.display());
}
