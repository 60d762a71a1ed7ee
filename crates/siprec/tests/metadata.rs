//! RFC 7865 metadata reader: dialects, consent extension, bounds, entity refusal, timeline.

use chrono::{DateTime, Utc};
use model::{ConsentKind, EvidenceSource};
use onrecord_siprec::{
    ConsentClaim, DataMode, MAX_ELEMENT_DEPTH, MAX_ELEMENTS_PER_KIND, MAX_METADATA_BYTES,
    MetadataDocument, MetadataNamespace, MetadataState, ParticipantId, SiprecError, StreamId,
    TimeNote, parse_metadata, parse_recording_metadata,
};

type TestResult = Result<(), SiprecError>;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .unwrap_or_default()
}

const SNAPSHOT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>complete</datamode>
  <session session_id="S1"><start-time>2026-11-28T10:00:00Z</start-time></session>
  <participant participant_id="P1">
    <nameID aor="sip:alice@example.com"><name xml:lang="en">Alice</name></nameID>
    <consent xmlns="urn:onrecord:params:xml:ns:consent:1" kind="verbal" at="2026-11-28T10:00:05Z" reference="ivr-consent-7"/>
  </participant>
  <participant participant_id="P2">
    <nameID aor="sip:bob@example.com"/>
    <c:consent xmlns:c="urn:onrecord:params:xml:ns:consent:1" kind="shouted" reference="x"/>
    <c:consent xmlns:c="urn:onrecord:params:xml:ns:consent:1" kind="dtmf" at="not a time" reference="x"/>
    <c:consent xmlns:c="urn:onrecord:params:xml:ns:consent:1" kind="written"/>
  </participant>
  <stream stream_id="T1" session_id="S1"><label>1</label></stream>
  <stream stream_id="T2" session_id="S1"><label>2</label></stream>
  <participantsessionassoc participant_id="P1" session_id="S1"><associate-time>2026-11-28T10:00:00Z</associate-time></participantsessionassoc>
  <participantsessionassoc participant_id="P2" session_id="S1"><associate-time>2026-11-28T10:00:00Z</associate-time></participantsessionassoc>
  <participantstreamassoc participant_id="P1"><send>T1</send><recv>T2</recv></participantstreamassoc>
  <participantstreamassoc participant_id="P2"><send>T2</send><recv>T1</recv></participantstreamassoc>
</recording>"#;

#[test]
fn consent_extension_becomes_call_metadata_evidence() -> TestResult {
    let metadata = parse_recording_metadata(SNAPSHOT.as_bytes())?;
    let alice = metadata
        .participant(&ParticipantId::new("P1"))
        .ok_or(SiprecError::EmptyDocument)?;
    let [ConsentClaim::Valid { evidence }] = alice.consent.as_slice() else {
        panic!("expected one valid claim, got {:?}", alice.consent);
    };
    assert_eq!(evidence.kind, ConsentKind::Verbal);
    assert_eq!(evidence.at, Some(at("2026-11-28T10:00:05Z")));
    assert_eq!(evidence.reference, "ivr-consent-7");
    assert_eq!(evidence.source, EvidenceSource::CallMetadata);
    assert_eq!(
        alice.names[0].aor.dangerous_reveal(),
        "sip:alice@example.com"
    );
    Ok(())
}

#[test]
fn malformed_consent_is_kept_as_invalid_with_a_reason() -> TestResult {
    let metadata = parse_recording_metadata(SNAPSHOT.as_bytes())?;
    let bob = metadata
        .participant(&ParticipantId::new("P2"))
        .ok_or(SiprecError::EmptyDocument)?;
    let reasons: Vec<&str> = bob
        .consent
        .iter()
        .map(|claim| match claim {
            ConsentClaim::Invalid { reason } => reason.as_str(),
            ConsentClaim::Valid { .. } => "valid",
        })
        .collect();
    assert_eq!(reasons.len(), 3);
    assert!(reasons[0].contains("shouted"), "{reasons:?}");
    assert!(reasons[1].contains("not a timestamp"), "{reasons:?}");
    assert!(reasons[2].contains("no reference"), "{reasons:?}");
    Ok(())
}

#[test]
fn personal_data_is_redacted_in_debug_output() -> TestResult {
    let metadata = parse_recording_metadata(SNAPSHOT.as_bytes())?;
    let debug = format!("{metadata:?}");
    assert!(
        !debug.contains("alice@example.com") && !debug.contains("Alice"),
        "{debug}"
    );
    Ok(())
}

#[test]
fn legacy_attributes_prefixes_and_interleaved_order_read_the_same() -> TestResult {
    let legacy = r#"<tns:recording xmlns:tns='urn:ietf:params:xml:ns:recording'>
        <tns:participantstreamassoc participant_id="P1"><tns:send>T1</tns:send></tns:participantstreamassoc>
        <tns:stream id="T1" session="S1"><tns:label>1</tns:label></tns:stream>
        <tns:dataMode>partial</tns:dataMode>
        <tns:participant id="P1"><tns:nameID aor="sip:a@example.com"/></tns:participant>
      </tns:recording>"#;
    let metadata = parse_recording_metadata(legacy.as_bytes())?;
    assert_eq!(metadata.namespace, MetadataNamespace::RecordingUnversioned);
    assert_eq!(metadata.data_mode, DataMode::Partial);
    assert_eq!(
        metadata.streams[0].session.as_ref().map(|id| id.as_str()),
        Some("S1")
    );
    assert_eq!(metadata.participants[0].id, ParticipantId::new("P1"));
    assert_eq!(
        metadata.participant_stream_associations[0].send,
        [StreamId::new("T1")]
    );
    Ok(())
}

#[test]
fn acme_send_children_and_session_attribute_become_associations() -> TestResult {
    let acme = r#"<recording xmlns='urn:ietf:params:xml:ns:recording'>
        <participant id="P1" session="S1"><nameID aor="sip:9000@x"/><send>T1</send>
          <associate-time>2019-03-09T16:50:20</associate-time></participant>
      </recording>"#;
    let metadata = parse_recording_metadata(acme.as_bytes())?;
    assert_eq!(
        metadata.participant_stream_associations[0].send,
        [StreamId::new("T1")]
    );
    let association = &metadata.participant_session_associations[0];
    assert_eq!(association.session.as_str(), "S1");
    let time = association
        .associate_time
        .as_ref()
        .ok_or(SiprecError::EmptyDocument)?;
    assert_eq!(
        (time.utc, time.note),
        (
            Some(at("2019-03-09T16:50:20Z")),
            Some(TimeNote::NoZoneAssumedUtc)
        )
    );
    Ok(())
}

#[test]
fn pre_rfc_broadworks_root_is_recording_metadata() -> TestResult {
    let broadworks = r#"<recording_metadata xmlns="urn:ietf:params:xml:ns:siprec">completeSRC</recording_metadata>"#;
    let metadata = parse_recording_metadata(broadworks.as_bytes())?;
    assert_eq!(metadata.namespace, MetadataNamespace::PreRfcSiprec);
    assert_eq!(metadata.data_mode, DataMode::Complete);
    Ok(())
}

#[test]
fn snapshot_request_parses() -> TestResult {
    let request = r#"<requestsnapshot xmlns='urn:ietf:params:xml:ns:recording:1'><requestreason xml:lang="it">SRS internal error</requestreason></requestsnapshot>"#;
    let MetadataDocument::SnapshotRequest(request) = parse_metadata(request.as_bytes())? else {
        panic!("not a snapshot request");
    };
    assert_eq!(request.reason.as_deref(), Some("SRS internal error"));
    assert_eq!(request.language.as_deref(), Some("it"));
    Ok(())
}

#[test]
fn duplicate_ids_keep_the_first_element_and_say_so() -> TestResult {
    let document = r#"<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
        <stream stream_id="T1"><label>1</label></stream><stream stream_id="T1"><label>9</label></stream></recording>"#;
    let metadata = parse_recording_metadata(document.as_bytes())?;
    assert_eq!(metadata.streams.len(), 1);
    assert_eq!(metadata.streams[0].label.as_deref(), Some("1"));
    assert!(
        metadata
            .notes
            .iter()
            .any(|note| note.contains("duplicate stream"))
    );
    Ok(())
}

#[test]
fn entity_declarations_are_refused() {
    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
        <recording xmlns='urn:ietf:params:xml:ns:recording:1'>&lol2;</recording>"#;
    assert_eq!(
        parse_metadata(billion_laughs.as_bytes()),
        Err(SiprecError::DoctypeRefused)
    );
    assert_eq!(
        parse_metadata(b"<!ENTITY x 'y'><recording/>"),
        Err(SiprecError::DoctypeRefused)
    );
}

#[test]
fn undefined_entity_reference_is_kept_as_text_not_expanded() -> TestResult {
    let document = r#"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><stream stream_id="T1"><label>a&x;&lt;</label></stream></recording>"#;
    let metadata = parse_recording_metadata(document.as_bytes())?;
    assert_eq!(metadata.streams[0].label.as_deref(), Some("a&x;<"));
    Ok(())
}

#[test]
fn size_depth_and_element_count_are_bounded() {
    let huge = format!("<recording>{}</recording>", " ".repeat(MAX_METADATA_BYTES));
    assert!(matches!(
        parse_metadata(huge.as_bytes()),
        Err(SiprecError::MetadataTooLarge { .. })
    ));
    let deep = format!(
        "<recording>{}{}</recording>",
        "<a>".repeat(MAX_ELEMENT_DEPTH),
        "</a>".repeat(MAX_ELEMENT_DEPTH)
    );
    assert_eq!(
        parse_metadata(deep.as_bytes()),
        Err(SiprecError::TooDeep {
            limit: MAX_ELEMENT_DEPTH
        })
    );
    let many = format!(
        "<recording>{}</recording>",
        "<stream stream_id='x'/>".repeat(MAX_ELEMENTS_PER_KIND + 1)
    );
    assert!(matches!(
        parse_metadata(many.as_bytes()),
        Err(SiprecError::TooManyElements { .. })
    ));
}

#[test]
fn non_metadata_roots_and_broken_xml_are_errors() {
    assert!(matches!(
        parse_metadata(b"<html/>"),
        Err(SiprecError::UnexpectedRoot(_))
    ));
    assert!(matches!(
        parse_metadata(b"<recording><session>"),
        Err(SiprecError::MalformedXml(_))
    ));
    assert_eq!(parse_metadata(b"  "), Err(SiprecError::EmptyDocument));
    assert_eq!(
        parse_metadata(b"<recording>\xff</recording>"),
        Err(SiprecError::MetadataNotUtf8)
    );
}

const HOLD: &str = r#"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><datamode>partial</datamode>
    <participantstreamassoc participant_id="P1"><recv>T2</recv></participantstreamassoc></recording>"#;

const LEAVE: &str = r#"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><datamode>partial</datamode>
    <participantsessionassoc participant_id="P2" session_id="S1"><disassociate-time>2026-11-28T10:05:00Z</disassociate-time></participantsessionassoc>
    <session session_id="S1"><stop-time>2026-11-28T10:05:00Z</stop-time></session></recording>"#;

#[test]
fn partial_updates_merge_and_history_keeps_every_version() -> TestResult {
    let mut state = MetadataState::new();
    state.apply(
        at("2026-11-28T10:00:00Z"),
        parse_recording_metadata(SNAPSHOT.as_bytes())?,
    )?;
    let resolved = state.resolve_labels(["1", "2"]);
    assert_eq!(resolved[0].senders, [ParticipantId::new("P1")]);
    assert_eq!(resolved[1].senders, [ParticipantId::new("P2")]);

    // RFC 8068 §3.2.2: on hold, P1's association lacks <send>: it no longer sends on T1.
    state.apply(
        at("2026-11-28T10:01:00Z"),
        parse_recording_metadata(HOLD.as_bytes())?,
    )?;
    let on_hold = state.resolve_labels(["1"]);
    assert_eq!(on_hold[0].stream, Some(StreamId::new("T1")));
    assert!(on_hold[0].senders.is_empty());
    assert_eq!(on_hold[0].receivers, [ParticipantId::new("P2")]);

    state.apply(
        at("2026-11-28T10:05:00Z"),
        parse_recording_metadata(LEAVE.as_bytes())?,
    )?;
    let after_leave = state.resolve_labels(["2", "unknown"]);
    assert!(after_leave[0].senders.is_empty(), "P2 left the session");
    assert_eq!(after_leave[1].stream, None);
    let current = state.current().ok_or(SiprecError::EmptyDocument)?;
    assert!(current.sessions[0].stop_time.is_some());
    assert_eq!(
        current.participants.len(),
        2,
        "partial updates do not drop participants"
    );

    let history = state.history();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1].sequence, 2);
    assert_eq!(history[1].received_at, at("2026-11-28T10:01:00Z"));
    assert_eq!(history[1].document.data_mode, DataMode::Partial);
    Ok(())
}

#[test]
fn a_complete_snapshot_replaces_the_view() -> TestResult {
    let mut state = MetadataState::new();
    state.apply(
        at("2026-11-28T10:00:00Z"),
        parse_recording_metadata(SNAPSHOT.as_bytes())?,
    )?;
    let replacement = r#"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><participant participant_id="P9"><nameID aor="sip:c@x"/></participant></recording>"#;
    let current = state.apply(
        at("2026-11-28T10:02:00Z"),
        parse_recording_metadata(replacement.as_bytes())?,
    )?;
    assert_eq!(current.participants.len(), 1);
    assert!(current.streams.is_empty());
    Ok(())
}

#[test]
fn a_partial_update_before_any_snapshot_is_refused() -> TestResult {
    let mut state = MetadataState::new();
    let result = state.apply(
        at("2026-11-28T10:00:00Z"),
        parse_recording_metadata(HOLD.as_bytes())?,
    );
    assert_eq!(result.err(), Some(SiprecError::PartialBeforeSnapshot));
    assert!(state.history().is_empty());
    Ok(())
}
