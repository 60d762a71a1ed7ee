use chrono::{TimeZone, Utc};
use model::{ConsentEvidence, ConsentKind, Direction, EvidenceSource};

use super::*;

/// The example of `docs/import.md`, byte for byte.
const EXAMPLE: &str = r#"{"external_id": "c-1001", "started_at": "2026-11-28T10:00:00Z", "direction": "inbound", "participants": [{"address": "tel:+441632960001", "name": "Ann Customer", "role": "customer", "consent": [{"kind": "announcement", "at": "2026-11-28T10:00:00Z", "reference": "prompt-recording-notice-v2"}]}, {"address": "sip:agent7@contact.example.com", "name": "Agent 7", "role": "agent", "consent": []}], "tags": ["qa"]}"#;

fn parsed(text: &str) -> Sidecar {
    match parse_sidecar(text.as_bytes()) {
        Ok(sidecar) => sidecar,
        Err(error) => panic!("sidecar should parse: {error}"),
    }
}

fn error(text: &str) -> SidecarError {
    match parse_sidecar(text.as_bytes()) {
        Ok(sidecar) => panic!("sidecar should be refused, got {sidecar:?}"),
        Err(error) => error,
    }
}

/// The example with one JSON fragment replaced, for error cases.
fn example_with(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "example has no {from:?}");
    EXAMPLE.replacen(from, to, 1)
}

#[test]
fn documented_example_parses_into_typed_sidecar() {
    let sidecar = parsed(EXAMPLE);
    let ten = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).single();
    assert_eq!(sidecar.external_id.as_deref(), Some("c-1001"));
    assert_eq!(Some(sidecar.started_at), ten);
    assert_eq!(sidecar.direction, Direction::Inbound);
    assert_eq!(sidecar.tags, ["qa"]);
    assert_eq!(sidecar.codec, None);
    let [customer, agent] = sidecar.participants.as_slice() else {
        panic!("expected two participants");
    };
    assert_eq!(customer.address.dangerous_reveal(), "tel:+441632960001");
    assert_eq!(
        customer
            .name
            .as_ref()
            .map(|name| name.dangerous_reveal().as_str()),
        Some("Ann Customer")
    );
    assert_eq!(customer.role, "customer");
    assert_eq!(
        customer.consent,
        vec![ConsentEvidence {
            kind: ConsentKind::Announcement,
            at: ten,
            reference: "prompt-recording-notice-v2".to_owned(),
            source: EvidenceSource::ImportSidecar,
        }]
    );
    assert_eq!(
        agent.address.dangerous_reveal(),
        "sip:agent7@contact.example.com"
    );
    assert_eq!(agent.role, "agent");
    assert!(agent.consent.is_empty());
}

#[test]
fn debug_output_of_a_sidecar_hides_addresses_and_names() {
    let printed = format!("{:?}", parsed(EXAMPLE));
    assert!(!printed.contains("1632960001"));
    assert!(!printed.contains("Ann Customer"));
}

#[test]
fn time_with_offset_is_normalised_to_utc() {
    let sidecar = parsed(&example_with(
        r#""started_at": "2026-11-28T10:00:00Z""#,
        r#""started_at": "2026-11-28T11:30:00.250+01:30""#,
    ));
    let expected = Utc
        .with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
        .single()
        .map(|time| time + chrono::Duration::milliseconds(250));
    assert_eq!(Some(sidecar.started_at), expected);
}

#[test]
fn minimal_sidecar_takes_defaults() {
    let sidecar = parsed(
        r#"{"started_at": "2026-11-28T10:00:00Z", "participants": [{"address": "tel:+441632960001"}]}"#,
    );
    assert_eq!(sidecar.external_id, None);
    assert_eq!(sidecar.direction, Direction::Unknown);
    assert!(sidecar.tags.is_empty());
    assert_eq!(sidecar.participants[0].role, "");
    assert_eq!(sidecar.participants[0].name, None);
    assert!(sidecar.participants[0].consent.is_empty());
}

#[test]
fn null_optional_fields_count_as_absent() {
    let sidecar = parsed(
        r#"{"external_id": null, "started_at": "2026-11-28T10:00:00Z", "direction": null, "tags": null, "codec": null,
            "participants": [{"address": "tel:+1", "name": null, "consent": [{"kind": "written", "at": null, "reference": "contract-9"}]}]}"#,
    );
    assert_eq!(sidecar.external_id, None);
    assert_eq!(sidecar.participants[0].consent[0].at, None);
}

#[test]
fn unknown_fields_are_ignored() {
    let sidecar = parsed(&example_with(
        r#""tags": ["qa"]"#,
        r#""tags": ["qa"], "vendor": {"queue": 7, "nested": [1, 2]}, "x-note": "anything""#,
    ));
    assert_eq!(sidecar.tags, ["qa"]);
}

#[test]
fn byte_order_mark_is_skipped() {
    let with_mark = format!("\u{feff}{EXAMPLE}");
    assert_eq!(parse_sidecar(with_mark.as_bytes()), Ok(parsed(EXAMPLE)));
}

#[test]
fn codec_as_a_name_takes_g711_defaults() {
    let sidecar = parsed(&example_with(r#""tags": ["qa"]"#, r#""codec": "pcma""#));
    assert_eq!(sidecar.codec, Some(RawCodec::g711(RawEncoding::Pcma)));
}

#[test]
fn codec_as_an_object_states_rate_and_channels() {
    let sidecar = parsed(&example_with(
        r#""tags": ["qa"]"#,
        r#""codec": {"encoding": "pcmu", "sample_rate": 16000, "channels": 2}"#,
    ));
    assert_eq!(
        sidecar.codec,
        Some(RawCodec {
            encoding: RawEncoding::Pcmu,
            sample_rate: 16_000,
            channels: 2
        })
    );
}

#[test]
fn unknown_consent_kind_names_its_path() {
    let refused = error(&example_with(
        r#""kind": "announcement""#,
        r#""kind": "implied""#,
    ));
    assert_eq!(refused.path(), Some("participants[0].consent[0].kind"));
    assert_eq!(
        refused.to_string(),
        "participants[0].consent[0].kind: expected one of \"announcement\", \"verbal\", \"dtmf\", \"written\", \"employment\", found an unknown value"
    );
}

#[test]
fn consent_kind_of_the_wrong_type_names_its_path() {
    let refused = error(&example_with(
        r#""consent": []"#,
        r#""consent": [{"kind": 5, "reference": "x"}]"#,
    ));
    assert_eq!(
        refused.to_string(),
        "participants[1].consent[0].kind: expected a string, found a number"
    );
}

#[test]
fn bad_direction_is_refused() {
    let refused = error(&example_with(
        r#""direction": "inbound""#,
        r#""direction": "sideways""#,
    ));
    assert_eq!(refused.path(), Some("direction"));
}

#[test]
fn missing_started_at_is_refused() {
    let refused = error(&example_with(
        r#""started_at": "2026-11-28T10:00:00Z", "#,
        "",
    ));
    assert_eq!(
        refused,
        SidecarError::Missing {
            path: "started_at".to_owned(),
            expected: "an RFC 3339 time such as \"2026-11-28T10:00:00Z\""
        }
    );
}

#[test]
fn time_without_offset_is_refused() {
    let refused = error(&example_with(
        r#""started_at": "2026-11-28T10:00:00Z""#,
        r#""started_at": "2026-11-28 10:00:00""#,
    ));
    assert_eq!(refused.path(), Some("started_at"));
    let refused = error(&example_with(
        r#""at": "2026-11-28T10:00:00Z""#,
        r#""at": "yesterday""#,
    ));
    assert_eq!(refused.path(), Some("participants[0].consent[0].at"));
}

#[test]
fn empty_participants_are_refused() {
    let refused = error(r#"{"started_at": "2026-11-28T10:00:00Z", "participants": []}"#);
    assert_eq!(
        refused.to_string(),
        "participants: expected a non-empty array of participants, found an empty array"
    );
}

#[test]
fn participant_without_address_is_refused() {
    let refused = error(&example_with(r#""address": "tel:+441632960001", "#, ""));
    assert_eq!(refused.path(), Some("participants[0].address"));
    let refused = error(&example_with(
        r#""address": "tel:+441632960001""#,
        r#""address": " ""#,
    ));
    assert_eq!(refused.path(), Some("participants[0].address"));
}

#[test]
fn error_messages_never_repeat_values() {
    let refused = error(&example_with(
        r#""address": "tel:+441632960001""#,
        r#""address": 441632960001"#,
    ));
    assert!(!refused.to_string().contains("1632960001"), "{refused}");
    let refused = error(&example_with(
        r#""direction": "inbound""#,
        r#""direction": "tel:+441632960001""#,
    ));
    assert!(!refused.to_string().contains("1632960001"), "{refused}");
}

#[test]
fn document_that_is_not_an_object_is_refused() {
    assert_eq!(error("[]").path(), Some("$"));
    assert_eq!(error("\"x\"").path(), Some("$"));
    assert!(matches!(error(""), SidecarError::Syntax { .. }));
    assert!(matches!(
        error("{\"started_at\": "),
        SidecarError::Syntax { .. }
    ));
}

#[test]
fn oversized_sidecar_is_refused_before_parsing() {
    let padding = " ".repeat(MAX_SIDECAR_BYTES);
    assert_eq!(
        error(&format!("{EXAMPLE}{padding}")),
        SidecarError::TooLarge {
            size: EXAMPLE.len() + MAX_SIDECAR_BYTES
        }
    );
}

#[test]
fn too_many_participants_are_refused() {
    let one = r#"{"address": "tel:+1"}"#;
    let many = vec![one; MAX_PARTICIPANTS + 1].join(",");
    let refused = error(&format!(
        r#"{{"started_at": "2026-11-28T10:00:00Z", "participants": [{many}]}}"#
    ));
    assert_eq!(
        refused,
        SidecarError::TooMany {
            path: "participants".to_owned(),
            count: MAX_PARTICIPANTS + 1,
            limit: MAX_PARTICIPANTS
        }
    );
}

#[test]
fn too_much_evidence_for_one_participant_is_refused() {
    let item = r#"{"kind": "verbal", "reference": "ivr-7"}"#;
    let items = vec![item; MAX_EVIDENCE_PER_PARTICIPANT + 1].join(",");
    let refused = error(&example_with(
        r#""consent": []"#,
        &format!(r#""consent": [{items}]"#),
    ));
    assert_eq!(refused.path(), Some("participants[1].consent"));
}

#[test]
fn overlong_strings_and_tags_are_refused() {
    let long = "x".repeat(MAX_STRING_BYTES + 1);
    let refused = error(&example_with("prompt-recording-notice-v2", &long));
    assert_eq!(
        refused,
        SidecarError::TooLong {
            path: "participants[0].consent[0].reference".to_owned(),
            length: MAX_STRING_BYTES + 1,
            limit: MAX_STRING_BYTES
        }
    );
    let tag = "t".repeat(MAX_TAG_BYTES + 1);
    assert_eq!(
        error(&example_with(r#"["qa"]"#, &format!(r#"["qa", "{tag}"]"#))).path(),
        Some("tags[1]")
    );
    let tags = vec![r#""qa""#; MAX_TAGS + 1].join(",");
    assert_eq!(
        error(&example_with(r#"["qa"]"#, &format!("[{tags}]"))).path(),
        Some("tags")
    );
    assert_eq!(
        error(&example_with(r#"["qa"]"#, r#"[""]"#)).path(),
        Some("tags[0]")
    );
}

#[test]
fn bad_codec_declarations_are_refused() {
    for (codec, path) in [
        (r#""codec": "opus""#, "codec"),
        (r#""codec": 0"#, "codec"),
        (r#""codec": {"sample_rate": 8000}"#, "codec.encoding"),
        (r#""codec": {"encoding": "g722"}"#, "codec.encoding"),
        (
            r#""codec": {"encoding": "pcmu", "sample_rate": 0}"#,
            "codec.sample_rate",
        ),
        (
            r#""codec": {"encoding": "pcmu", "sample_rate": 8000.5}"#,
            "codec.sample_rate",
        ),
        (
            r#""codec": {"encoding": "pcmu", "channels": 9}"#,
            "codec.channels",
        ),
        (
            r#""codec": {"encoding": "pcmu", "channels": -1}"#,
            "codec.channels",
        ),
    ] {
        let refused = error(&example_with(r#""tags": ["qa"]"#, codec));
        assert_eq!(refused.path(), Some(path), "{codec}: {refused}");
    }
}

#[test]
fn deeply_nested_unknown_field_is_refused_without_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let refused = error(&example_with(
        r#""tags": ["qa"]"#,
        &format!(r#""deep": {deep}"#),
    ));
    assert!(matches!(refused, SidecarError::Syntax { .. }), "{refused}");
}
