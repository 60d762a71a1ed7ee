//! Completeness certificates: at the end of each recording, a verdict on whether the archive
//! holds the whole call, signed with the node key and committed with the recording.
//!
//! [`assess`] (live calls) and [`assess_import`] (imported files) are sans-IO: they take what
//! the recording knew when it ended — the streams expected (SDP plan, RFC 7865 metadata, the
//! import sidecar), what each stream received (RFC 3550 A.3 sequence accounting, SSRC
//! changes, the gap map with its pauses, holds, losses and consent gaps), who was associated
//! with which stream, and how the session ended — and return a [`Verdict`]: `complete`, or
//! `gaps` with a list of [`Finding`]s. [`certificate`] signs a verdict into the document the
//! catalog stores. A certificate names stream labels and participant ordinals, never an
//! address or a name, so it stays valid (and harmless) after its recording is erased.

pub mod cli;

use std::collections::{BTreeMap, BTreeSet};

use catalog::{CompletenessVerdict, NewCertificate};
use chrono::{DateTime, SecondsFormat, Utc};
use media::{GapMap, GapReason};
use model::{RecordingId, TenantId};
use serde::Serialize;
use serde_json::{Value, json};

use crate::nodekey::NodeKey;

/// The kind a certificate is signed under (`nodekey` domain separation).
pub const CERTIFICATE_KIND: &str = "onrecord.completeness-certificate.v1";

/// Media that starts this long after its stream was set up is a late start.
pub const LATE_START_MS: u64 = 2_000;
/// Media that stops this long before its stream ended is an early end.
pub const EARLY_END_MS: u64 = 2_000;

/// Findings kept in a certificate; the rest are counted in `findings_omitted` (a call that
/// flaps between hold and resume all day must still fit in one catalog row).
const MAX_FINDINGS: usize = 64;
/// Per-stream rows kept in a certificate.
const MAX_STREAM_ROWS: usize = 32;
/// Longest error text quoted in a finding.
const MAX_ERROR_CHARS: usize = 200;

/// Where an expected stream was announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    /// An `m=` line the server answered (RFC 7866 §7.1.1).
    Sdp,
    /// A `<stream>` with this label in the RFC 7865 metadata (§6.7).
    Metadata,
}

/// What one recorded stream received.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamFacts {
    pub label: String,
    /// RFC 3550 A.3: highest extended sequence minus the base, plus one, summed over sources.
    pub packets_expected: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub ssrc_changes: u64,
    /// Arrival of the first and last stored audio, ms since the stream's start.
    pub first_audio_ms: Option<u64>,
    pub last_audio_ms: Option<u64>,
    /// Pauses, holds, losses, inactivity and consent gaps, and where the stream ended.
    pub gap_map: GapMap,
    /// Ordinals of the participants associated with the stream as senders (RFC 7865 §6.8).
    pub senders: BTreeSet<u32>,
    /// A sealing or spool error that stopped recording the stream early.
    pub error: Option<String>,
}

impl StreamFacts {
    fn end_ms(&self) -> u64 {
        self.gap_map.end.saturating_mul(1_000) / u64::from(self.gap_map.clock_rate.max(1))
    }
}

/// One participant as the recording knew them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantFacts {
    pub ordinal: u32,
}

/// What a live recording knew when its session ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveFacts {
    /// Every stream label announced, with where.
    pub expected: BTreeMap<String, BTreeSet<Expectation>>,
    /// Streams that were set up for recording.
    pub streams: Vec<StreamFacts>,
    /// Answered streams that could not be recorded at all, with why.
    pub not_recorded: Vec<(String, String)>,
    pub participants: Vec<ParticipantFacts>,
    /// Who caused each signalled gap: participant ordinals per (stream, reason). A pause is
    /// the recording client's (RFC 7866 §7.1.1.1) and names nobody.
    pub gap_causes: BTreeMap<(String, GapKind), BTreeSet<u32>>,
    /// How the session ended (`Bye`, `MediaTimeout`, …).
    pub end_reason: String,
}

/// The signalled gaps, as named in findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapKind {
    Pause,
    Hold,
    NoConsent,
}

impl GapKind {
    pub fn of(reason: GapReason) -> Option<GapKind> {
        match reason {
            GapReason::Pause => Some(GapKind::Pause),
            GapReason::Hold => Some(GapKind::Hold),
            GapReason::NoConsent => Some(GapKind::NoConsent),
            GapReason::Loss | GapReason::Inactivity => None,
        }
    }

    fn why(self) -> &'static str {
        match self {
            GapKind::Pause => {
                "the recording client paused the stream (a=inactive in its offer, RFC 7866 §7.1.1.1)"
            }
            GapKind::Hold => {
                "nobody sent on the stream: the metadata dropped every send (RFC 7865 §6.8, hold as in RFC 8068 §3.2.2)"
            }
            GapKind::NoConsent => {
                "a participant sending on the stream had no consent evidence or asked not to be recorded (a=recordpref:off); nothing was recorded meanwhile"
            }
        }
    }
}

/// What an imported file declared and what was decoded from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFacts {
    pub participants: usize,
    /// Channels the sidecar's `codec` declared, if it declared any.
    pub declared_channels: Option<u16>,
    pub decoded_channels: u16,
    pub duration_ms: u64,
}

/// One reason a recording is not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// An expected stream holds no media.
    StreamMissing {
        stream: String,
        expected_by: Vec<Expectation>,
        why: String,
    },
    /// RTP sequence numbers that never arrived (RFC 3550 A.3 cumulative loss).
    PacketsLost {
        stream: String,
        lost: u64,
        expected: u64,
        /// Loss intervals in the gap map.
        intervals: usize,
    },
    /// The sender changed SSRC (RFC 3550 §8.2): a transfer, a media server change.
    SsrcChange { stream: String, changes: u64 },
    /// The recording client paused recording.
    Pause {
        stream: String,
        start_ms: u64,
        end_ms: u64,
        started_at: String,
        by: String,
        why: String,
    },
    /// The call was on hold: nobody sent on the stream.
    Hold {
        stream: String,
        start_ms: u64,
        end_ms: u64,
        started_at: String,
        /// Ordinals of the participants associated with the stream.
        participants: Vec<u32>,
        why: String,
    },
    /// A participant without consent evidence was on the stream; nothing was recorded.
    NoConsent {
        stream: String,
        start_ms: u64,
        end_ms: u64,
        started_at: String,
        participants: Vec<u32>,
        why: String,
    },
    /// Media arrived on a stream no participant was associated with (RFC 7865 §6.8).
    StreamWithoutParticipant { stream: String },
    /// A participant associated with no recorded stream.
    ParticipantWithoutStream { participant: u32 },
    /// An imported file's channel beyond the sidecar's participants.
    ChannelWithoutParticipant { channel: u16 },
    /// The sidecar declared a channel count the file does not have.
    ChannelMismatch { declared: u16, decoded: u16 },
    /// The first audio arrived late.
    LateStart { stream: String, after_ms: u64 },
    /// The audio stopped well before the stream ended.
    EarlyEnd { stream: String, before_end_ms: u64 },
    /// Recording the stream stopped on an error.
    StreamError { stream: String, error: String },
    /// The session did not end with the client's BYE.
    AbnormalEnd { reason: String },
}

/// Per-stream figures in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamRow {
    pub stream: String,
    pub expected_by: Vec<Expectation>,
    pub packets_expected: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub ssrc_changes: u64,
    pub senders: Vec<u32>,
}

/// The outcome of an assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub streams_expected: usize,
    /// Streams with at least one packet.
    pub streams_received: usize,
    pub packets_expected: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub streams: Vec<StreamRow>,
    pub findings: Vec<Finding>,
}

impl Verdict {
    pub fn verdict(&self) -> CompletenessVerdict {
        if self.findings.is_empty() {
            CompletenessVerdict::Complete
        } else {
            CompletenessVerdict::Gaps
        }
    }
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

fn wall(unix_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(unix_ms)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The verdict on a live recording.
pub fn assess(facts: &LiveFacts) -> Verdict {
    let mut findings = Vec::new();
    let recorded: BTreeMap<&str, &StreamFacts> = facts
        .streams
        .iter()
        .map(|stream| (stream.label.as_str(), stream))
        .collect();
    let mut expected = facts.expected.clone();
    for stream in &facts.streams {
        expected.entry(stream.label.clone()).or_default();
    }
    for (label, _) in &facts.not_recorded {
        expected.entry(label.clone()).or_default();
    }

    // Expected streams without media.
    for (label, by) in &expected {
        let why = match recorded.get(label.as_str()) {
            Some(stream) if stream.packets_received > 0 => continue,
            Some(_) => "no RTP packet arrived".to_owned(),
            None => match facts.not_recorded.iter().find(|(l, _)| l == label) {
                Some((_, error)) => format!("not recorded: {}", clip(error)),
                None => "named in the metadata but never offered in SDP".to_owned(),
            },
        };
        findings.push(Finding::StreamMissing {
            stream: label.clone(),
            expected_by: by.iter().copied().collect(),
            why,
        });
    }

    let mut associated: BTreeSet<u32> = BTreeSet::new();
    for stream in &facts.streams {
        associated.extend(stream.senders.iter().copied());
        stream_findings(stream, facts, &mut findings);
    }
    for participant in &facts.participants {
        if !associated.contains(&participant.ordinal) {
            findings.push(Finding::ParticipantWithoutStream {
                participant: participant.ordinal,
            });
        }
    }
    if facts.end_reason != "Bye" {
        findings.push(Finding::AbnormalEnd {
            reason: facts.end_reason.clone(),
        });
    }

    let rows = facts
        .streams
        .iter()
        .map(|stream| StreamRow {
            stream: stream.label.clone(),
            expected_by: expected
                .get(&stream.label)
                .map(|by| by.iter().copied().collect())
                .unwrap_or_default(),
            packets_expected: stream.packets_expected,
            packets_received: stream.packets_received,
            packets_lost: stream.packets_lost,
            ssrc_changes: stream.ssrc_changes,
            senders: stream.senders.iter().copied().collect(),
        })
        .collect();
    Verdict {
        streams_expected: expected.len(),
        streams_received: facts
            .streams
            .iter()
            .filter(|stream| stream.packets_received > 0)
            .count(),
        packets_expected: facts.streams.iter().map(|s| s.packets_expected).sum(),
        packets_received: facts.streams.iter().map(|s| s.packets_received).sum(),
        packets_lost: facts.streams.iter().map(|s| s.packets_lost).sum(),
        streams: rows,
        findings,
    }
}

fn stream_findings(stream: &StreamFacts, facts: &LiveFacts, findings: &mut Vec<Finding>) {
    let label = &stream.label;
    if let Some(error) = &stream.error {
        findings.push(Finding::StreamError {
            stream: label.clone(),
            error: clip(error),
        });
    }
    if stream.packets_lost > 0 {
        findings.push(Finding::PacketsLost {
            stream: label.clone(),
            lost: stream.packets_lost,
            expected: stream.packets_expected,
            intervals: stream
                .gap_map
                .gaps
                .iter()
                .filter(|gap| gap.reason == GapReason::Loss)
                .count(),
        });
    }
    if stream.ssrc_changes > 0 {
        findings.push(Finding::SsrcChange {
            stream: label.clone(),
            changes: stream.ssrc_changes,
        });
    }
    if stream.packets_received > 0 && stream.senders.is_empty() {
        findings.push(Finding::StreamWithoutParticipant {
            stream: label.clone(),
        });
    }

    let end_ms = stream.end_ms();
    let mut signalled_from_start = false;
    let mut signalled_to_end = false;
    for gap in &stream.gap_map.gaps {
        let Some(kind) = GapKind::of(gap.reason) else {
            continue;
        };
        signalled_from_start |= gap.start_ms <= LATE_START_MS;
        signalled_to_end |= gap.end_ms.saturating_add(EARLY_END_MS) >= end_ms;
        let participants: Vec<u32> = facts
            .gap_causes
            .get(&(label.clone(), kind))
            .map(|who| who.iter().copied().collect())
            .unwrap_or_default();
        let (stream_name, started_at, why) = (
            label.clone(),
            wall(gap.start_unix_ms),
            kind.why().to_owned(),
        );
        findings.push(match kind {
            GapKind::Pause => Finding::Pause {
                stream: stream_name,
                start_ms: gap.start_ms,
                end_ms: gap.end_ms,
                started_at,
                by: "recording-client".into(),
                why,
            },
            GapKind::Hold => Finding::Hold {
                stream: stream_name,
                start_ms: gap.start_ms,
                end_ms: gap.end_ms,
                started_at,
                participants,
                why,
            },
            GapKind::NoConsent => Finding::NoConsent {
                stream: stream_name,
                start_ms: gap.start_ms,
                end_ms: gap.end_ms,
                started_at,
                participants,
                why,
            },
        });
    }

    // Late start and early end, unless a signalled gap explains the silence.
    if let Some(first) = stream.first_audio_ms
        && first >= LATE_START_MS
        && !signalled_from_start
    {
        findings.push(Finding::LateStart {
            stream: label.clone(),
            after_ms: first,
        });
    }
    if let Some(last) = stream.last_audio_ms {
        let silent = end_ms.saturating_sub(last);
        if silent >= EARLY_END_MS && !signalled_to_end {
            findings.push(Finding::EarlyEnd {
                stream: label.clone(),
                before_end_ms: silent,
            });
        }
    }
}

/// The verdict on an imported file: one stream (`original`) whose channels map to the
/// sidecar's participants in order (`docs/import.md`).
pub fn assess_import(facts: &ImportFacts) -> Verdict {
    let mut findings = Vec::new();
    if facts.duration_ms == 0 {
        findings.push(Finding::StreamMissing {
            stream: crate::import::IMPORT_STREAM_LABEL.into(),
            expected_by: Vec::new(),
            why: "the file decodes to no audio".into(),
        });
    }
    if let Some(declared) = facts.declared_channels
        && declared != facts.decoded_channels
    {
        findings.push(Finding::ChannelMismatch {
            declared,
            decoded: facts.decoded_channels,
        });
    }
    // A mono file is a mix of everyone: nothing to map. With channels, channel i is
    // participant i + 1.
    let channels = usize::from(facts.decoded_channels);
    if channels > 1 {
        for channel in facts.participants..channels {
            findings.push(Finding::ChannelWithoutParticipant {
                channel: u16::try_from(channel).unwrap_or(u16::MAX),
            });
        }
        for ordinal in channels..facts.participants {
            findings.push(Finding::ParticipantWithoutStream {
                participant: u32::try_from(ordinal + 1).unwrap_or(u32::MAX),
            });
        }
    }
    Verdict {
        streams_expected: 1,
        streams_received: usize::from(facts.duration_ms > 0),
        packets_expected: 0,
        packets_received: 0,
        packets_lost: 0,
        streams: Vec::new(),
        findings,
    }
}

/// What a certificate is about.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub recording: RecordingId,
    pub tenant: &'a TenantId,
    pub source: catalog::RecordingSource,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The recording's content hash (binds the certificate to the archived content).
    pub content_hash: &'a [u8; 32],
    /// When the verdict was reached (the end of the call, the import).
    pub issued_at: DateTime<Utc>,
    /// The recording client (live) — a configured name, not personal data.
    pub client: Option<&'a str>,
}

/// The unsigned body of a certificate.
pub fn body(subject: &Subject<'_>, verdict: &Verdict, findings_limit: usize) -> Value {
    let time = |at: &DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let kept = verdict.findings.len().min(findings_limit);
    let rows = verdict.streams.len().min(MAX_STREAM_ROWS);
    json!({
        "recording": subject.recording,
        "tenant": subject.tenant,
        "source": subject.source.as_str(),
        "client": subject.client,
        "started_at": time(&subject.started_at),
        "duration_ms": subject.duration_ms,
        "content_hash": hex::encode(subject.content_hash),
        "issued_at": time(&subject.issued_at),
        "verdict": verdict.verdict().as_str(),
        "gap_count": verdict.findings.len(),
        "streams": {
            "expected": verdict.streams_expected,
            "received": verdict.streams_received,
        },
        "packets": {
            "expected": verdict.packets_expected,
            "received": verdict.packets_received,
            "lost": verdict.packets_lost,
        },
        "per_stream": &verdict.streams[..rows],
        "per_stream_omitted": verdict.streams.len() - rows,
        "findings": &verdict.findings[..kept],
        "findings_omitted": verdict.findings.len() - kept,
    })
}

/// The verdict signed with the node key, ready to commit with its recording.
pub fn certificate(node: &NodeKey, subject: &Subject<'_>, verdict: &Verdict) -> NewCertificate {
    let mut document = node.sign(CERTIFICATE_KIND, body(subject, verdict, MAX_FINDINGS));
    let mut text = document.to_string();
    if text.len() > catalog::completeness::MAX_CERTIFICATE_BYTES {
        // Only absurd inputs get here (dozens of streams with long errors): keep the
        // figures and the count of findings, name none.
        document = node.sign(CERTIFICATE_KIND, body(subject, verdict, 0));
        text = document.to_string();
    }
    NewCertificate {
        verdict: verdict.verdict(),
        gap_count: u32::try_from(verdict.findings.len()).unwrap_or(u32::MAX),
        document: text,
    }
}

#[cfg(test)]
mod tests;
