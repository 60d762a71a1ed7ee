//! Golden tests over the SIPREC corpus (`../shared/siprec-corpus`): every RFC example and
//! every vendor body goes through the multipart splitter, the SDP reader, the metadata
//! reader, the metadata timeline and label resolution, and the result is compared with
//! `testdata/siprec/<name>.json`; every vendor SDP offer is answered and compared with
//! `testdata/sdp/<name>.answer.sdp`. Regenerate with `ONRECORD_UPDATE_GOLDEN=1`.

mod extract;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use onrecord_siprec::{
    MetadataDocument, MetadataState, RequestFacts, SessionKind, classify, parse_metadata,
    split_recording_session_body,
};
use sdp::{LocalPort, SdpSession, SessionDescription};
use serde_json::{Value, json};

use extract::Message;

/// Files of the corpus that hold no body to test, by name.
const NOT_BODIES: [&str; 2] = [
    "rfc7865-s9-recording-metadata.xsd",
    "LICENSE.drachtio-siprec-recording-server",
];

/// RFC 8068 examples that continue an earlier one ("as in example 1"): their state starts
/// from that example's first snapshot.
const CONTINUES: [(&str, &str); 6] = [
    (
        "rfc8068-3.2.2-hold-resume.txt",
        "rfc8068-3.2.1-basic-call.txt",
    ),
    (
        "rfc8068-3.2.3-transfer-reinvite-refer.txt",
        "rfc8068-3.2.1-basic-call.txt",
    ),
    (
        "rfc8068-3.2.4-call-disconnect.txt",
        "rfc8068-3.2.1-basic-call.txt",
    ),
    (
        "rfc8068-3.3.2-mixed-hold-resume.txt",
        "rfc8068-3.3.1-mixed-basic-call.txt",
    ),
    (
        "rfc8068-3.3.3-mixed-join-drop.txt",
        "rfc8068-3.3.1-mixed-basic-call.txt",
    ),
    (
        "rfc8068-3.4.1-persistent-rs-cs-disconnect.txt",
        "rfc8068-3.2.1-basic-call.txt",
    ),
];

fn corpus_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/siprec-corpus")
}

fn workspace_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn corpus_files(folder: &str) -> Vec<PathBuf> {
    let directory = corpus_directory().join(folder);
    let entries = std::fs::read_dir(&directory).unwrap_or_else(|error| {
        panic!(
            "SIPREC corpus folder {} is missing ({error}); it must be at ../shared",
            directory.display()
        )
    });
    let mut files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus folder {} is empty",
        directory.display()
    );
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn updating() -> bool {
    std::env::var_os("ONRECORD_UPDATE_GOLDEN").is_some_and(|value| value == "1")
}

fn check_golden(relative: &str, actual: &str) {
    let path = workspace_path(relative);
    if updating() {
        if let Err(error) = std::fs::write(&path, actual) {
            panic!("cannot write {}: {error}", path.display());
        }
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "golden {} unreadable ({error}); run with ONRECORD_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "differs from golden {}", path.display());
}

fn time_of_step(index: usize) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|time| time.with_timezone(&Utc))
        .unwrap_or_default()
        + Duration::minutes(i64::try_from(index).unwrap_or(0))
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value)
        .unwrap_or_else(|error| json!({ "serialize-error": error.to_string() }))
}

/// Runs one message body through every layer, applying its metadata to `state`.
/// Returns the step's JSON and the SDP offer, when there is one.
fn run_step(
    message: &Message,
    state: &mut MetadataState,
    at: DateTime<Utc>,
) -> (Value, Option<SessionDescription>) {
    let mut step = serde_json::Map::new();
    step.insert("method".into(), json!(message.method));
    step.insert("content_type".into(), json!(message.content_type));
    if let Some(note) = &message.note {
        step.insert("extraction_note".into(), json!(note));
    }
    let body = match split_recording_session_body(&message.content_type, &message.body) {
        Ok(body) => body,
        Err(error) => {
            step.insert("split_error".into(), json!(error.to_string()));
            return (Value::Object(step), None);
        }
    };
    step.insert(
        "parts".into(),
        json!({
            "sdp_bytes": body.sdp.map(<[u8]>::len),
            "metadata": body.metadata.as_ref().map(|part| json!({
                "content_type": part.content_type,
                "recording_session_disposition": part.recording_session_disposition,
                "bytes": part.body.len(),
            })),
            "other": body.other_parts.iter().map(|part| json!({
                "content_type": part.content_type,
                "disposition": part.disposition,
                "bytes": part.body.len(),
            })).collect::<Vec<_>>(),
        }),
    );
    let facts = RequestFacts {
        has_src_feature_tag: message.has_src_feature_tag,
        requires_siprec: message.requires_siprec,
        has_metadata_part: body.metadata.is_some(),
    };
    // RFC 7866 §6.2 classifies a new INVITE; other requests belong to a session already classified.
    if message.method.as_deref() == Some("INVITE") {
        step.insert(
            "classification".into(),
            json!(format!("{:?}", classify(&facts))),
        );
    }

    let offer = body.sdp.map(SessionDescription::parse);
    let mut labels: Vec<String> = Vec::new();
    let offer = match offer {
        None => None,
        Some(Err(error)) => {
            step.insert("sdp".into(), json!({ "error": error.to_string() }));
            None
        }
        Some(Ok(offer)) => {
            labels = offer
                .media
                .iter()
                .filter_map(|media| media.label().map(str::to_owned))
                .collect();
            step.insert(
                "sdp".into(),
                json!({
                    "media": offer.media.iter().enumerate().map(|(index, media)| json!({
                        "media": media.media,
                        "port": media.port,
                        "formats": media.formats,
                        "label": media.label(),
                        "direction": offer.media_direction(index).as_str(),
                    })).collect::<Vec<_>>(),
                }),
            );
            Some(offer)
        }
    };

    if let Some(part) = &body.metadata {
        match parse_metadata(part.body) {
            Err(error) => {
                step.insert("metadata".into(), json!({ "error": error.to_string() }));
            }
            Ok(document) => {
                step.insert("metadata".into(), to_json(&document));
                if let MetadataDocument::Recording(metadata) = document {
                    match state.apply(at, metadata) {
                        Ok(current) => {
                            step.insert("state_after".into(), to_json(current));
                        }
                        Err(error) => {
                            step.insert("state_error".into(), json!(error.to_string()));
                        }
                    }
                }
            }
        }
    }
    if !labels.is_empty() {
        let resolution = state.resolve_labels(labels.iter().map(String::as_str));
        step.insert("label_resolution".into(), to_json(&resolution));
    }
    (Value::Object(step), offer)
}

fn run_messages(
    messages: &[Message],
    state: &mut MetadataState,
) -> (Vec<Value>, Vec<SessionDescription>) {
    let mut steps = Vec::new();
    let mut offers = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let (step, offer) = run_step(message, state, time_of_step(index + 1));
        steps.push(step);
        offers.extend(offer);
    }
    (steps, offers)
}

fn golden_document(name: &str, baseline: Option<&str>, steps: Vec<Value>) -> String {
    let document = json!({ "file": name, "baseline": baseline, "steps": steps });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// The first complete snapshot of `name`, applied to a fresh state.
fn baseline_state(name: &str) -> MetadataState {
    let text = read(&corpus_directory().join("rfc").join(name));
    let mut state = MetadataState::new();
    for message in extract::rfc_messages(&text) {
        if let Ok(body) = split_recording_session_body(&message.content_type, &message.body)
            && let Some(part) = body.metadata
            && let Ok(MetadataDocument::Recording(metadata)) = parse_metadata(part.body)
        {
            if let Err(error) = state.apply(time_of_step(0), metadata) {
                panic!("baseline {name} does not apply: {error}");
            }
            return state;
        }
    }
    panic!("baseline {name} has no metadata snapshot");
}

#[test]
fn rfc_examples_match_their_goldens() {
    let mut checked = 0;
    for path in corpus_files("rfc") {
        let name = file_name(&path);
        if NOT_BODIES.contains(&name.as_str()) {
            continue;
        }
        let text = read(&path);
        let baseline = CONTINUES
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, baseline)| *baseline);
        let mut state = baseline.map(baseline_state).unwrap_or_default();
        let messages = if name.ends_with(".xml") {
            vec![Message::metadata_only(text.into_bytes())]
        } else {
            extract::rfc_messages(&read(&path))
        };
        let (steps, _) = run_messages(&messages, &mut state);
        let stem = name.trim_end_matches(".xml").trim_end_matches(".txt");
        check_golden(
            &format!("testdata/siprec/{stem}.json"),
            &golden_document(&name, baseline, steps),
        );
        checked += 1;
    }
    assert_eq!(checked, 20, "every RFC example has a golden");
}

#[test]
fn vendor_bodies_match_their_goldens_and_offers_are_answered()
-> Result<(), Box<dyn std::error::Error>> {
    let mut checked = 0;
    for path in corpus_files("vendors") {
        let name = file_name(&path);
        if NOT_BODIES.contains(&name.as_str()) {
            continue;
        }
        let messages = extract::vendor_messages(&read(&path));
        let mut state = MetadataState::new();
        let (steps, offers) = run_messages(&messages, &mut state);
        let stem = name.trim_end_matches(".txt");
        check_golden(
            &format!("testdata/siprec/{stem}.json"),
            &golden_document(&name, None, steps),
        );
        let is_multipart = messages
            .iter()
            .any(|message| message.content_type.starts_with("multipart/"));
        if is_multipart {
            // Bare SDP files are answered by the sdp crate's own golden test.
            for offer in &offers {
                let ports: Vec<LocalPort> = (0..offer.media.len())
                    .map(|index| LocalPort::Ready(10_000 + 2 * index as u16))
                    .collect();
                let answer = SdpSession::new(0, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20)))
                    .answer(offer, &ports)?;
                check_golden(
                    &format!("testdata/sdp/{stem}.answer.sdp"),
                    &answer.description.to_string(),
                );
            }
            assert_eq!(offers.len(), 1, "{name} has one SDP offer");
        }
        checked += 1;
    }
    assert_eq!(checked, 14, "every vendor file has a golden");
    Ok(())
}

#[test]
fn non_siprec_payload_is_not_a_recording_session() {
    let text = read(&corpus_directory().join("vendors/non-siprec-payload.txt"));
    let messages = extract::vendor_messages(&text);
    assert_eq!(messages.len(), 1);
    let Ok(body) = split_recording_session_body(&messages[0].content_type, &messages[0].body)
    else {
        panic!("bare SDP does not split");
    };
    let facts = RequestFacts {
        has_src_feature_tag: false,
        requires_siprec: false,
        has_metadata_part: body.metadata.is_some(),
    };
    assert_eq!(classify(&facts), SessionKind::NotRecordingSession);
}

#[test]
fn every_vendor_multipart_body_yields_sdp_and_metadata() {
    for path in corpus_files("vendors") {
        let name = file_name(&path);
        let text = read(&path);
        if NOT_BODIES.contains(&name.as_str()) || !text.trim_start().starts_with("--") {
            continue;
        }
        for message in extract::vendor_messages(&text) {
            let body = split_recording_session_body(&message.content_type, &message.body)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(body.sdp.is_some(), "{name}: no SDP part");
            let metadata = body
                .metadata
                .unwrap_or_else(|| panic!("{name}: no metadata part"));
            assert!(
                parse_metadata(metadata.body).is_ok(),
                "{name}: metadata does not parse"
            );
        }
    }
}
