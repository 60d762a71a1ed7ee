//! The import sidecar: `NAME.json` beside `NAME.wav`, describing one call. The schema, with
//! every bound, is documented in `docs/import.md`.
//!
//! The document is parsed into a `serde_json::Value` (serde_json bounds nesting at 128 levels,
//! so hostile depth cannot exhaust the stack) and then walked by hand, so that every error
//! names the JSON path of the value at fault and what was expected there. Unknown fields are
//! accepted and ignored, so exporters may add their own; of a key given twice, the last wins.
//! Error messages never repeat the values found, since sidecars carry personal data.

use chrono::{DateTime, Utc};
use model::{ConsentEvidence, ConsentKind, Direction, EvidenceSource, Pii};
use serde_json::{Map, Value};

use crate::json_path::JsonPath;

/// The largest sidecar accepted, in bytes.
pub const MAX_SIDECAR_BYTES: usize = 256 * 1_024;
/// The most participants one sidecar may list.
pub const MAX_PARTICIPANTS: usize = 64;
/// The most consent evidence items one participant may carry.
pub const MAX_EVIDENCE_PER_PARTICIPANT: usize = 32;
/// The longest string value accepted (addresses, names, roles, references, ids), in bytes.
pub const MAX_STRING_BYTES: usize = 1_024;
/// The most tags one sidecar may carry.
pub const MAX_TAGS: usize = 64;
/// The longest tag accepted, in bytes.
pub const MAX_TAG_BYTES: usize = 64;
/// The sample rates a raw G.711 declaration may state (G.711 itself is 8 kHz).
pub const RAW_SAMPLE_RATES: std::ops::RangeInclusive<u32> = 4_000..=96_000;
/// The channel counts a raw G.711 declaration may state (interleaved, one byte per sample).
pub const RAW_CHANNELS: std::ops::RangeInclusive<u16> = 1..=8;

/// One call's description, as the sidecar gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// The exporting system's own id for the call, if any.
    pub external_id: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `unknown` when the sidecar does not say.
    pub direction: Direction,
    /// At least one, at most [`MAX_PARTICIPANTS`].
    pub participants: Vec<SidecarParticipant>,
    pub tags: Vec<String>,
    /// Only for raw G.711 audio, which has no header to say what it is.
    pub codec: Option<RawCodec>,
}

/// A participant of the call and the consent evidence the sidecar supplies for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarParticipant {
    /// A URI such as `tel:+441632960001` or `sip:agent7@contact.example.com`.
    pub address: Pii<String>,
    pub name: Option<Pii<String>>,
    /// Free text (`customer`, `agent`); empty when the sidecar does not say.
    pub role: String,
    /// Each item with source [`EvidenceSource::ImportSidecar`]. Items are taken as given: the
    /// consent decision, not the parser, judges whether they count (e.g. an empty reference).
    pub consent: Vec<ConsentEvidence>,
}

/// The G.711 variant of a raw (headerless) audio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawEncoding {
    /// µ-law (ITU-T G.711; RTP payload type 0, RFC 3551 §4.5.14).
    Pcmu,
    /// A-law (ITU-T G.711; RTP payload type 8, RFC 3551 §4.5.14).
    Pcma,
}

impl RawEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            RawEncoding::Pcmu => "pcmu",
            RawEncoding::Pcma => "pcma",
        }
    }
}

/// How a raw G.711 file is to be read: one byte per sample, channels interleaved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawCodec {
    pub encoding: RawEncoding,
    /// Samples per second per channel; 8,000 unless the sidecar says otherwise.
    pub sample_rate: u32,
    /// 1 unless the sidecar says otherwise.
    pub channels: u16,
}

impl RawCodec {
    /// G.711 as it is almost always found: 8,000 samples/s, mono.
    pub fn g711(encoding: RawEncoding) -> RawCodec {
        RawCodec {
            encoding,
            sample_rate: 8_000,
            channels: 1,
        }
    }
}

/// Why a sidecar was not accepted. Every variant about a value names its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidecarError {
    #[error("sidecar is {size} bytes; the limit is {MAX_SIDECAR_BYTES}")]
    TooLarge { size: usize },
    #[error("sidecar is not valid JSON: {message}")]
    Syntax { message: String },
    #[error("{path}: missing; expected {expected}")]
    Missing {
        path: String,
        expected: &'static str,
    },
    #[error("{path}: expected {expected}, found {found}")]
    Invalid {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{path}: {count} items; at most {limit} are allowed")]
    TooMany {
        path: String,
        count: usize,
        limit: usize,
    },
    #[error("{path}: {length} bytes; at most {limit} are allowed")]
    TooLong {
        path: String,
        length: usize,
        limit: usize,
    },
}

impl SidecarError {
    /// The JSON path of the value at fault, when the error is about one value.
    pub fn path(&self) -> Option<&str> {
        match self {
            SidecarError::TooLarge { .. } | SidecarError::Syntax { .. } => None,
            SidecarError::Missing { path, .. }
            | SidecarError::Invalid { path, .. }
            | SidecarError::TooMany { path, .. }
            | SidecarError::TooLong { path, .. } => Some(path),
        }
    }
}

/// Parses a sidecar. Never panics; every size is bounded (see the `MAX_` constants).
pub fn parse_sidecar(bytes: &[u8]) -> Result<Sidecar, SidecarError> {
    if bytes.len() > MAX_SIDECAR_BYTES {
        return Err(SidecarError::TooLarge { size: bytes.len() });
    }
    // Windows tools like to start UTF-8 files with a byte-order mark; JSON (RFC 8259 §8.1)
    // says parsers MAY ignore it, and we do.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let document: Value = serde_json::from_slice(bytes).map_err(|error| SidecarError::Syntax {
        message: error.to_string(),
    })?;
    let root = JsonPath::ROOT;
    let fields = object(&document, &root, "an object describing one call")?;

    let external_id = optional(fields, "external_id")
        .map(|value| text(value, &root.key("external_id"), MAX_STRING_BYTES))
        .transpose()?
        .map(str::to_owned);
    let started_at = time(
        required(fields, &root, "started_at", TIME_EXPECTED)?,
        &root.key("started_at"),
    )?;
    let direction = optional(fields, "direction")
        .map(|value| direction(value, &root.key("direction")))
        .transpose()?
        .unwrap_or(Direction::Unknown);
    let participants = participants(
        required(fields, &root, "participants", PARTICIPANTS_EXPECTED)?,
        &root.key("participants"),
    )?;
    let tags = optional(fields, "tags")
        .map(|value| tags(value, &root.key("tags")))
        .transpose()?
        .unwrap_or_default();
    let codec = optional(fields, "codec")
        .map(|value| codec(value, &root.key("codec")))
        .transpose()?;

    Ok(Sidecar {
        external_id,
        started_at,
        direction,
        participants,
        tags,
        codec,
    })
}

const TIME_EXPECTED: &str = "an RFC 3339 time such as \"2026-11-28T10:00:00Z\"";
const PARTICIPANTS_EXPECTED: &str = "a non-empty array of participants";
const KIND_EXPECTED: &str =
    "one of \"announcement\", \"verbal\", \"dtmf\", \"written\", \"employment\"";
const DIRECTION_EXPECTED: &str = "one of \"inbound\", \"outbound\", \"internal\", \"unknown\"";
const ENCODING_EXPECTED: &str = "\"pcmu\" or \"pcma\"";

fn participants(
    value: &Value,
    path: &JsonPath<'_>,
) -> Result<Vec<SidecarParticipant>, SidecarError> {
    let items = array(value, path, PARTICIPANTS_EXPECTED, MAX_PARTICIPANTS)?;
    if items.is_empty() {
        return Err(invalid(path, PARTICIPANTS_EXPECTED, "an empty array"));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| participant(item, &path.index(index)))
        .collect()
}

fn participant(value: &Value, path: &JsonPath<'_>) -> Result<SidecarParticipant, SidecarError> {
    let fields = object(value, path, "an object describing one participant")?;
    let address = nonempty_text(
        required(
            fields,
            path,
            "address",
            "a URI such as \"tel:+441632960001\"",
        )?,
        &path.key("address"),
    )?;
    let name = optional(fields, "name")
        .map(|value| text(value, &path.key("name"), MAX_STRING_BYTES))
        .transpose()?;
    let role = optional(fields, "role")
        .map(|value| text(value, &path.key("role"), MAX_STRING_BYTES))
        .transpose()?
        .unwrap_or_default();
    let consent = match optional(fields, "consent") {
        None => Vec::new(),
        Some(value) => {
            let consent_path = path.key("consent");
            array(
                value,
                &consent_path,
                "an array of consent evidence",
                MAX_EVIDENCE_PER_PARTICIPANT,
            )?
            .iter()
            .enumerate()
            .map(|(index, item)| evidence(item, &consent_path.index(index)))
            .collect::<Result<_, _>>()?
        }
    };
    Ok(SidecarParticipant {
        address: Pii::new(address.to_owned()),
        name: name.map(|name| Pii::new(name.to_owned())),
        role: role.to_owned(),
        consent,
    })
}

fn evidence(value: &Value, path: &JsonPath<'_>) -> Result<ConsentEvidence, SidecarError> {
    let fields = object(value, path, "an object with kind, at and reference")?;
    let kind_path = path.key("kind");
    let kind = text(
        required(fields, path, "kind", KIND_EXPECTED)?,
        &kind_path,
        MAX_STRING_BYTES,
    )?
    .parse::<ConsentKind>()
    .map_err(|_| invalid(&kind_path, KIND_EXPECTED, "an unknown value"))?;
    let at = optional(fields, "at")
        .map(|value| time(value, &path.key("at")))
        .transpose()?;
    let reference = text(
        required(
            fields,
            path,
            "reference",
            "the prompt, IVR step or document it refers to",
        )?,
        &path.key("reference"),
        MAX_STRING_BYTES,
    )?;
    Ok(ConsentEvidence {
        kind,
        at,
        reference: reference.to_owned(),
        source: EvidenceSource::ImportSidecar,
    })
}

fn direction(value: &Value, path: &JsonPath<'_>) -> Result<Direction, SidecarError> {
    let name = text(value, path, MAX_STRING_BYTES)?;
    Direction::parse(name).ok_or_else(|| invalid(path, DIRECTION_EXPECTED, "an unknown value"))
}

fn tags(value: &Value, path: &JsonPath<'_>) -> Result<Vec<String>, SidecarError> {
    array(value, path, "an array of strings", MAX_TAGS)?
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let tag_path = path.index(index);
            let tag = text(item, &tag_path, MAX_TAG_BYTES)?;
            if tag.is_empty() {
                return Err(invalid(&tag_path, "a non-empty string", "an empty string"));
            }
            Ok(tag.to_owned())
        })
        .collect()
}

/// `"pcmu"`, or `{"encoding": "pcma", "sample_rate": 8000, "channels": 1}`.
fn codec(value: &Value, path: &JsonPath<'_>) -> Result<RawCodec, SidecarError> {
    const EXPECTED: &str =
        "\"pcmu\", \"pcma\" or an object {\"encoding\", \"sample_rate\", \"channels\"}";
    let (encoding_value, encoding_path, fields) = match value {
        Value::String(_) => (value, *path, None),
        Value::Object(fields) => (
            required(fields, path, "encoding", ENCODING_EXPECTED)?,
            path.key("encoding"),
            Some(fields),
        ),
        other => return Err(invalid(path, EXPECTED, type_name(other))),
    };
    let encoding = match text(encoding_value, &encoding_path, MAX_STRING_BYTES)? {
        "pcmu" => RawEncoding::Pcmu,
        "pcma" => RawEncoding::Pcma,
        _ => {
            return Err(invalid(
                &encoding_path,
                ENCODING_EXPECTED,
                "an unknown value",
            ));
        }
    };
    let mut codec = RawCodec::g711(encoding);
    let Some(fields) = fields else {
        return Ok(codec);
    };
    if let Some(value) = optional(fields, "sample_rate") {
        let rate_path = path.key("sample_rate");
        let rate = integer(value, &rate_path, "an integer from 4000 to 96000")?;
        codec.sample_rate = u32::try_from(rate)
            .ok()
            .filter(|rate| RAW_SAMPLE_RATES.contains(rate))
            .ok_or_else(|| {
                invalid(
                    &rate_path,
                    "an integer from 4000 to 96000",
                    "one out of range",
                )
            })?;
    }
    if let Some(value) = optional(fields, "channels") {
        let channels_path = path.key("channels");
        let channels = integer(value, &channels_path, "an integer from 1 to 8")?;
        codec.channels = u16::try_from(channels)
            .ok()
            .filter(|channels| RAW_CHANNELS.contains(channels))
            .ok_or_else(|| invalid(&channels_path, "an integer from 1 to 8", "one out of range"))?;
    }
    Ok(codec)
}

fn time(value: &Value, path: &JsonPath<'_>) -> Result<DateTime<Utc>, SidecarError> {
    let written = text(value, path, MAX_STRING_BYTES)?;
    DateTime::parse_from_rfc3339(written)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| invalid(path, TIME_EXPECTED, "a string that is not one"))
}

// ---- Typed access to the JSON tree -------------------------------------------------------

/// A field that may be absent; `null` counts as absent.
fn optional<'v>(fields: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    fields.get(key).filter(|value| !value.is_null())
}

fn required<'v>(
    fields: &'v Map<String, Value>,
    path: &JsonPath<'_>,
    key: &'static str,
    expected: &'static str,
) -> Result<&'v Value, SidecarError> {
    optional(fields, key).ok_or_else(|| SidecarError::Missing {
        path: path.key(key).to_string(),
        expected,
    })
}

fn object<'v>(
    value: &'v Value,
    path: &JsonPath<'_>,
    expected: &'static str,
) -> Result<&'v Map<String, Value>, SidecarError> {
    value
        .as_object()
        .ok_or_else(|| invalid(path, expected, type_name(value)))
}

fn array<'v>(
    value: &'v Value,
    path: &JsonPath<'_>,
    expected: &'static str,
    limit: usize,
) -> Result<&'v [Value], SidecarError> {
    let items = value
        .as_array()
        .ok_or_else(|| invalid(path, expected, type_name(value)))?;
    if items.len() > limit {
        return Err(SidecarError::TooMany {
            path: path.to_string(),
            count: items.len(),
            limit,
        });
    }
    Ok(items)
}

fn text<'v>(value: &'v Value, path: &JsonPath<'_>, limit: usize) -> Result<&'v str, SidecarError> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(path, "a string", type_name(value)))?;
    if text.len() > limit {
        return Err(SidecarError::TooLong {
            path: path.to_string(),
            length: text.len(),
            limit,
        });
    }
    Ok(text)
}

fn nonempty_text<'v>(value: &'v Value, path: &JsonPath<'_>) -> Result<&'v str, SidecarError> {
    let text = text(value, path, MAX_STRING_BYTES)?;
    if text.trim().is_empty() {
        return Err(invalid(path, "a non-empty string", "an empty string"));
    }
    Ok(text)
}

fn integer(
    value: &Value,
    path: &JsonPath<'_>,
    expected: &'static str,
) -> Result<u64, SidecarError> {
    value.as_u64().ok_or_else(|| {
        let found = match value {
            Value::Number(_) => "a number that is not a non-negative integer",
            other => type_name(other),
        };
        invalid(path, expected, found)
    })
}

fn invalid(path: &JsonPath<'_>, expected: &'static str, found: &'static str) -> SidecarError {
    SidecarError::Invalid {
        path: path.to_string(),
        expected,
        found,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "sidecar_tests.rs"]
mod tests;
