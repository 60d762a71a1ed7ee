//! The verdict over crafted facts: each kind of finding, and the clean call that has none.

use std::collections::{BTreeMap, BTreeSet};

use catalog::CompletenessVerdict;
use media::{Gap, GapMap, GapReason};
use serde_json::json;

use super::*;

const START_UNIX_MS: i64 = 1_795_860_000_000;

/// A 60-second G.711 stream with 3,000 packets, all received, from participant `sender`.
fn clean_stream(label: &str, sender: u32) -> StreamFacts {
    StreamFacts {
        label: label.into(),
        packets_expected: 3_000,
        packets_received: 3_000,
        packets_lost: 0,
        ssrc_changes: 0,
        first_audio_ms: Some(40),
        last_audio_ms: Some(59_980),
        gap_map: GapMap {
            clock_rate: 8_000,
            start_unix_ms: START_UNIX_MS,
            end: 60_000 * 8,
            gaps: Vec::new(),
        },
        senders: BTreeSet::from([sender]),
        error: None,
    }
}

fn gap(reason: GapReason, start_ms: u64, end_ms: u64, lost_packets: u32) -> Gap {
    Gap {
        reason,
        start: start_ms * 8,
        end: end_ms * 8,
        start_ms,
        end_ms,
        start_unix_ms: START_UNIX_MS + i64::try_from(start_ms).unwrap_or(0),
        end_unix_ms: START_UNIX_MS + i64::try_from(end_ms).unwrap_or(0),
        lost_packets,
    }
}

fn both(labels: &[&str]) -> BTreeMap<String, BTreeSet<Expectation>> {
    labels
        .iter()
        .map(|label| {
            (
                (*label).to_owned(),
                BTreeSet::from([Expectation::Sdp, Expectation::Metadata]),
            )
        })
        .collect()
}

/// A clean two-party call: two streams, each with its sender, BYE.
fn clean_call() -> LiveFacts {
    LiveFacts {
        expected: both(&["1", "2"]),
        streams: vec![clean_stream("1", 1), clean_stream("2", 2)],
        not_recorded: Vec::new(),
        participants: vec![
            ParticipantFacts { ordinal: 1 },
            ParticipantFacts { ordinal: 2 },
        ],
        gap_causes: BTreeMap::new(),
        end_reason: "Bye".into(),
    }
}

fn kinds(verdict: &Verdict) -> Vec<String> {
    verdict
        .findings
        .iter()
        .map(|finding| {
            serde_json::to_value(finding).unwrap_or_default()["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_clean_call_is_complete_with_its_figures() {
    let verdict = assess(&clean_call());
    assert_eq!(verdict.findings, vec![]);
    assert_eq!(verdict.verdict(), CompletenessVerdict::Complete);
    assert_eq!((verdict.streams_expected, verdict.streams_received), (2, 2));
    assert_eq!(
        (
            verdict.packets_expected,
            verdict.packets_received,
            verdict.packets_lost
        ),
        (6_000, 6_000, 0)
    );
    assert_eq!(verdict.streams[1].senders, vec![2]);
    assert_eq!(
        verdict.streams[0].expected_by,
        vec![Expectation::Sdp, Expectation::Metadata]
    );
}

#[test]
fn inactivity_alone_is_not_a_gap() {
    // Silence suppression between words: the sender sent nothing, nothing was lost.
    let mut facts = clean_call();
    facts.streams[0]
        .gap_map
        .gaps
        .push(gap(GapReason::Inactivity, 10_000, 14_000, 0));
    assert_eq!(assess(&facts).verdict(), CompletenessVerdict::Complete);
}

#[test]
fn lost_packets_are_counted_per_stream_with_their_intervals() {
    let mut facts = clean_call();
    let stream = &mut facts.streams[1];
    stream.packets_received = 2_950;
    stream.packets_lost = 50;
    stream.gap_map.gaps = vec![
        gap(GapReason::Loss, 1_000, 1_600, 30),
        gap(GapReason::Loss, 20_000, 20_400, 20),
    ];
    let verdict = assess(&facts);
    assert_eq!(
        verdict.findings,
        vec![Finding::PacketsLost {
            stream: "2".into(),
            lost: 50,
            expected: 3_000,
            intervals: 2
        }]
    );
    assert_eq!(verdict.verdict(), CompletenessVerdict::Gaps);
    assert_eq!(verdict.packets_lost, 50);
}

#[test]
fn a_loss_gap_filled_by_late_packets_is_no_finding() {
    // The gap map kept an interval but the sequence accounting says nothing is missing.
    let mut facts = clean_call();
    facts.streams[0]
        .gap_map
        .gaps
        .push(gap(GapReason::Loss, 1_000, 1_020, 0));
    assert_eq!(assess(&facts).findings, vec![]);
}

#[test]
fn an_expected_stream_without_packets_or_never_offered_is_missing() {
    let mut facts = clean_call();
    facts.streams[1].packets_expected = 0;
    facts.streams[1].packets_received = 0;
    facts.streams[1].first_audio_ms = None;
    facts.streams[1].last_audio_ms = None;
    facts
        .expected
        .insert("3".into(), BTreeSet::from([Expectation::Metadata]));
    facts
        .not_recorded
        .push(("4".into(), "no audio codec".into()));
    let verdict = assess(&facts);
    assert_eq!(verdict.streams_expected, 4);
    assert_eq!(verdict.streams_received, 1);
    assert_eq!(
        verdict.findings,
        vec![
            Finding::StreamMissing {
                stream: "2".into(),
                expected_by: vec![Expectation::Sdp, Expectation::Metadata],
                why: "no RTP packet arrived".into()
            },
            Finding::StreamMissing {
                stream: "3".into(),
                expected_by: vec![Expectation::Metadata],
                why: "named in the metadata but never offered in SDP".into()
            },
            Finding::StreamMissing {
                stream: "4".into(),
                expected_by: vec![],
                why: "not recorded: no audio codec".into()
            },
        ]
    );
}

#[test]
fn ssrc_changes_are_reported() {
    let mut facts = clean_call();
    facts.streams[0].ssrc_changes = 2;
    assert_eq!(
        assess(&facts).findings,
        vec![Finding::SsrcChange {
            stream: "1".into(),
            changes: 2
        }]
    );
}

#[test]
fn pauses_holds_and_consent_gaps_say_who_and_why() {
    let mut facts = clean_call();
    facts.streams[0].gap_map.gaps = vec![
        gap(GapReason::Pause, 5_000, 9_000, 0),
        gap(GapReason::Hold, 20_000, 30_000, 0),
    ];
    facts.streams[1].gap_map.gaps = vec![gap(GapReason::NoConsent, 40_000, 45_000, 0)];
    facts
        .gap_causes
        .insert(("1".into(), GapKind::Hold), BTreeSet::from([1]));
    facts
        .gap_causes
        .insert(("2".into(), GapKind::NoConsent), BTreeSet::from([2]));
    let verdict = assess(&facts);
    assert_eq!(kinds(&verdict), vec!["pause", "hold", "no-consent"]);
    let findings = serde_json::to_value(&verdict.findings).unwrap_or_default();
    assert_eq!(findings[0]["by"], "recording-client");
    assert_eq!(findings[0]["start_ms"], 5_000);
    assert_eq!(findings[0]["end_ms"], 9_000);
    assert_eq!(findings[0]["started_at"], "2026-11-28T10:00:05.000Z");
    assert!(
        findings[0]["why"]
            .as_str()
            .unwrap_or_default()
            .contains("RFC 7866 §7.1.1.1")
    );
    assert_eq!(findings[1]["participants"], json!([1]));
    assert!(
        findings[1]["why"]
            .as_str()
            .unwrap_or_default()
            .contains("RFC 8068")
    );
    assert_eq!(findings[2]["participants"], json!([2]));
    assert_eq!(findings[2]["stream"], "2");
}

#[test]
fn metadata_gaps_name_the_stream_or_the_participant() {
    let mut facts = clean_call();
    // Stream 2 has media but no participant is associated with it; participant 3 has no
    // stream at all.
    facts.streams[1].senders.clear();
    facts.participants.push(ParticipantFacts { ordinal: 3 });
    assert_eq!(
        assess(&facts).findings,
        vec![
            Finding::StreamWithoutParticipant { stream: "2".into() },
            Finding::ParticipantWithoutStream { participant: 2 },
            Finding::ParticipantWithoutStream { participant: 3 },
        ]
    );
}

#[test]
fn late_start_and_early_end_unless_a_signalled_gap_explains_them() {
    let mut facts = clean_call();
    facts.streams[0].first_audio_ms = Some(4_000);
    facts.streams[1].last_audio_ms = Some(50_000);
    assert_eq!(
        assess(&facts).findings,
        vec![
            Finding::LateStart {
                stream: "1".into(),
                after_ms: 4_000
            },
            Finding::EarlyEnd {
                stream: "2".into(),
                before_end_ms: 10_000
            },
        ]
    );

    // Paused from the start and on hold until the end: the silence is explained (and
    // reported as the pause and the hold instead).
    facts.streams[0].gap_map.gaps = vec![gap(GapReason::Pause, 0, 3_900, 0)];
    facts.streams[1].gap_map.gaps = vec![gap(GapReason::Hold, 50_020, 60_000, 0)];
    facts
        .gap_causes
        .insert(("2".into(), GapKind::Hold), BTreeSet::from([2]));
    assert_eq!(kinds(&assess(&facts)), vec!["pause", "hold"]);
}

#[test]
fn a_session_that_did_not_end_with_bye_and_a_stream_error_are_findings() {
    let mut facts = clean_call();
    facts.end_reason = "MediaTimeout".into();
    facts.streams[0].error = Some("spool: disk full".into());
    assert_eq!(
        assess(&facts).findings,
        vec![
            Finding::StreamError {
                stream: "1".into(),
                error: "spool: disk full".into()
            },
            Finding::AbnormalEnd {
                reason: "MediaTimeout".into()
            },
        ]
    );
}

#[test]
fn an_import_with_a_channel_per_participant_is_complete() {
    let facts = ImportFacts {
        participants: 2,
        declared_channels: None,
        decoded_channels: 2,
        duration_ms: 120_000,
    };
    let verdict = assess_import(&facts);
    assert_eq!(verdict.findings, vec![]);
    assert_eq!((verdict.streams_expected, verdict.streams_received), (1, 1));
    // A mono mix of two parties has nothing to map: complete too.
    let mono = ImportFacts {
        decoded_channels: 1,
        ..facts
    };
    assert_eq!(assess_import(&mono).findings, vec![]);
}

#[test]
fn an_import_reports_channels_without_participants_and_declared_mismatches() {
    let verdict = assess_import(&ImportFacts {
        participants: 1,
        declared_channels: Some(2),
        decoded_channels: 3,
        duration_ms: 0,
    });
    assert_eq!(
        verdict.findings,
        vec![
            Finding::StreamMissing {
                stream: "original".into(),
                expected_by: vec![],
                why: "the file decodes to no audio".into()
            },
            Finding::ChannelMismatch {
                declared: 2,
                decoded: 3
            },
            Finding::ChannelWithoutParticipant { channel: 1 },
            Finding::ChannelWithoutParticipant { channel: 2 },
        ]
    );
    let verdict = assess_import(&ImportFacts {
        participants: 3,
        declared_channels: None,
        decoded_channels: 2,
        duration_ms: 1_000,
    });
    assert_eq!(
        verdict.findings,
        vec![Finding::ParticipantWithoutStream { participant: 3 }]
    );
}

#[test]
fn a_certificate_verifies_with_the_node_key_and_caps_its_findings()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let node = NodeKey::load_or_create(dir.path())?;
    let tenant = TenantId::new("acme")?;
    let mut facts = clean_call();
    facts.streams[0].gap_map.gaps = (0..200)
        .map(|i| gap(GapReason::Hold, i * 100, i * 100 + 50, 0))
        .collect();
    let verdict = assess(&facts);
    let subject = Subject {
        recording: RecordingId::from_parts(1_795_860_000_000, [1; 10]),
        tenant: &tenant,
        source: catalog::RecordingSource::Siprec,
        started_at: DateTime::from_timestamp_millis(START_UNIX_MS).unwrap_or_default(),
        duration_ms: 60_000,
        content_hash: &[7; 32],
        issued_at: DateTime::from_timestamp_millis(START_UNIX_MS + 60_000).unwrap_or_default(),
        client: Some("pbx-1"),
    };
    let stored = certificate(&node, &subject, &verdict);
    assert_eq!(stored.verdict, CompletenessVerdict::Gaps);
    assert_eq!(stored.gap_count, 200);
    let document: Value = serde_json::from_str(&stored.document)?;
    let body = crate::nodekey::verify(&document, CERTIFICATE_KIND, &node.public_key())?;
    assert_eq!(body["verdict"], "gaps");
    assert_eq!(body["gap_count"], 200);
    assert_eq!(
        body["findings"].as_array().map(Vec::len),
        Some(MAX_FINDINGS)
    );
    assert_eq!(body["findings_omitted"], 200 - MAX_FINDINGS);
    assert_eq!(body["content_hash"], hex::encode([7; 32]));
    assert_eq!(body["client"], "pbx-1");

    let mut changed = document.clone();
    changed["body"]["verdict"] = json!("complete");
    assert!(crate::nodekey::verify(&changed, CERTIFICATE_KIND, &node.public_key()).is_err());
    Ok(())
}

/// Certifying many calls in a row gives documents that verify and stay small; it also prints
/// the cost per call on the live path (one assessment, one signature) for BENCHMARKS.md:
/// `cargo test -p onrecord --lib certifying_a_call_costs -- --nocapture`.
#[test]
fn certifying_a_call_costs_microseconds() -> Result<(), Box<dyn std::error::Error>> {
    use model::clock::{Clock, SystemClock};
    let dir = tempfile::tempdir()?;
    let node = NodeKey::load_or_create(dir.path())?;
    let tenant = TenantId::new("acme")?;
    let mut facts = clean_call();
    facts.streams[1].packets_lost = 3;
    facts.streams[1].gap_map.gaps = vec![gap(GapReason::Loss, 1_000, 1_060, 3)];
    let calls = 2_000u32;
    let started = SystemClock.monotonic();
    let mut bytes = 0;
    for index in 0..calls {
        let verdict = assess(&facts);
        let subject = Subject {
            recording: RecordingId::from_parts(
                1_795_860_000_000,
                [u8::try_from(index % 256).unwrap_or(0); 10],
            ),
            tenant: &tenant,
            source: catalog::RecordingSource::Siprec,
            started_at: DateTime::from_timestamp_millis(START_UNIX_MS).unwrap_or_default(),
            duration_ms: 60_000,
            content_hash: &[7; 32],
            issued_at: DateTime::from_timestamp_millis(START_UNIX_MS).unwrap_or_default(),
            client: Some("pbx-1"),
        };
        let issued = certificate(&node, &subject, &verdict);
        bytes += issued.document.len();
        if index + 1 == calls {
            let document: Value = serde_json::from_str(&issued.document)?;
            assert!(
                crate::nodekey::verify(&document, CERTIFICATE_KIND, &node.public_key()).is_ok()
            );
        }
    }
    // One row per call in the catalog: it must stay around a kilobyte, not grow with findings.
    assert!(
        bytes / usize::try_from(calls).unwrap_or(1) < 2_048,
        "{bytes} bytes"
    );
    let elapsed = SystemClock.monotonic().duration_since(started);
    eprintln!(
        "{:.1} µs per call (assess + sign), {} bytes per certificate",
        elapsed.as_secs_f64() * 1e6 / f64::from(calls),
        bytes / usize::try_from(calls).unwrap_or(1)
    );
    Ok(())
}
