//! One recording as a vCon document, after draft-ietf-vcon-vcon-core-03 ("The JSON format for
//! vCon"), in its unsigned form (§4): the subject access bundle signs its manifest instead,
//! which lists this document's SHA-256.
//!
//! The files a vCon describes travel beside it in the bundle's recording folder, so Dialog,
//! Analysis and Attachment Objects that refer to a file carry `filename` and `content_hash`
//! (§2.4.2) but no `url`: there is no HTTPS location to give, the bundle is the location.
//! Small JSON (consent evidence, the recording's catalog metadata) is inline (`body` with
//! `encoding: "json"`, §2.3).
//!
//! Parameters beyond the core schema (a party's `role`, `data_subject` and, for an address that
//! is neither tel, SIP nor mailto, `address`; the organisation party's `onrecord_tenant`) are a compatible extension named `onrecord` in `extensions`
//! (§2.5, §4.1.3): a consumer that does not know it can ignore them.

use base64::Engine;
use catalog::{Participant, RecordingDetail, Stream};
use chrono::{DateTime, SecondsFormat, Utc};
use model::Pii;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::live::server::LIVE_STREAM_CONTENT_TYPE;
use crate::readback::recording_json;

/// §4.1.1: "For syntax defined in this document, the string MUST have the value: "0.4.0"".
pub const VCON_SYNTAX: &str = "0.4.0";
/// The name of onrecord's compatible extension (§2.5).
pub const EXTENSION: &str = "onrecord";

/// A file of the recording's folder that the vCon describes.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// Name inside the recording's folder.
    pub name: &'a str,
    pub bytes: &'a [u8],
    pub stream: &'a Stream,
}

/// The recording's transcript file.
#[derive(Debug, Clone, Copy)]
pub struct TranscriptRef<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// The model that made it.
    pub model: &'a str,
}

/// §2.2 ContentHash: `sha512-` and the base64url (unpadded) SHA-512 of the content; "The
/// SHA-512 [SHA-512] algorithm MUST be supported" (§2.4.2).
pub fn content_hash(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha512::digest(bytes))
    )
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// §4.2 Party Object for a participant: the address as `tel` (§4.2.1), `sip` (§4.2.2, an
/// addr-spec keeps its scheme) or `mailto` (§4.2.4) by its scheme; an address of any other
/// scheme goes in onrecord's `address` rather than being forced into one of them.
fn party(participant: &Participant, subject: &Pii<String>) -> Value {
    let address = participant.address.dangerous_reveal();
    let mut party = serde_json::Map::new();
    let scheme = address
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("tel") => party.insert("tel".into(), json!(address)),
        Some("sip" | "sips") => party.insert("sip".into(), json!(address)),
        Some("mailto") => party.insert("mailto".into(), json!(address)),
        _ => party.insert("address".into(), json!(address)),
    };
    if let Some(name) = &participant.name {
        party.insert("name".into(), json!(name.dangerous_reveal()));
    }
    if !participant.role.is_empty() {
        party.insert("role".into(), json!(participant.role));
    }
    // §4.2.11: "person", "bot" or "organization".
    party.insert("type".into(), json!("person"));
    if participant.address == *subject {
        party.insert("data_subject".into(), json!(true));
    }
    Value::Object(party)
}

/// §4.3.8 media types the draft lists, by file extension; otherwise the stream's own type.
fn mediatype(name: &str, stream: &Stream) -> String {
    let extension = name.rsplit_once('.').map(|(_, extension)| extension);
    match extension.map(str::to_ascii_lowercase).as_deref() {
        Some("wav") => "audio/x-wav".into(),
        Some("mp3") => "audio/x-mp3".into(),
        Some("ogg" | "opus") => "audio/ogg".into(),
        Some("flac") => "audio/flac".into(),
        _ => stream.content_type.clone(),
    }
}

/// §4.3.4 `parties` of one audio file. "Multi-channel recordings MUST have a parties value
/// that is an array of the same size as the number of channels", with null for a channel
/// nobody is on. An import's channel N is participant N (as transcription attributes it); a
/// mono import mixes everyone; a live stream carries the participant that sends on it.
fn dialog_parties(detail: &RecordingDetail, stream: &Stream) -> Value {
    let everyone: Vec<usize> = (0..detail.participants.len()).collect();
    let index_of = |ordinal: u64| {
        detail
            .participants
            .iter()
            .position(|p| u64::from(p.ordinal) == ordinal)
    };
    let details = &detail.recording.details;
    if stream.content_type == LIVE_STREAM_CONTENT_TYPE {
        let sender = details
            .get("streams")
            .and_then(|streams| streams.get(stream.label.as_str()))
            .and_then(|stream| stream.get("participant"))
            .and_then(Value::as_u64)
            .and_then(index_of);
        return match sender {
            Some(index) => json!([index]),
            None => json!(everyone),
        };
    }
    let channels = details.get("channels").and_then(Value::as_u64).unwrap_or(1);
    if channels <= 1 {
        return json!(everyone);
    }
    Value::Array(
        (0..channels)
            .map(|channel| match usize::try_from(channel) {
                Ok(index) if index < detail.participants.len() => json!(index),
                _ => Value::Null,
            })
            .collect(),
    )
}

/// The vCon of one recording. `audio` become recording Dialog Objects (§4.3), `transcript`
/// an Analysis Object (§4.5), `metadata` (a live call's SIPREC metadata timeline) and each
/// participant's consent evidence Attachment Objects (§4.4).
pub fn document(
    detail: &RecordingDetail,
    subject: &Pii<String>,
    created_at: DateTime<Utc>,
    audio: &[FileRef<'_>],
    transcript: Option<TranscriptRef<'_>>,
    metadata: &[FileRef<'_>],
) -> Value {
    let recording = &detail.recording;
    let start = time(recording.started_at);
    let mut parties: Vec<Value> = detail
        .participants
        .iter()
        .map(|participant| party(participant, subject))
        .collect();
    // §4.4.3: an attachment names the party that contributed it; "The organization or entity
    // that adds the attachment SHOULD be represented as a Party Object." That is the tenant.
    let organisation = parties.len();
    parties.push(json!({
        "type": "organization",
        "name": recording.tenant,
        "onrecord_tenant": recording.tenant,
    }));

    let dialog: Vec<Value> = audio
        .iter()
        .map(|file| {
            json!({
                "type": "recording",
                "start": start,
                // §4.3.3: seconds, "UnsignedInt" | "UnsignedFloat".
                "duration": file.stream.duration_ms as f64 / 1000.0,
                "parties": dialog_parties(detail, file.stream),
                "mediatype": mediatype(file.name, file.stream),
                "filename": file.name,
                "content_hash": content_hash(file.bytes),
            })
        })
        .collect();
    let all_dialog: Vec<usize> = (0..dialog.len()).collect();

    let analysis: Vec<Value> = transcript
        .map(|file| {
            json!({
                "type": "transcript",
                "dialog": all_dialog,
                "mediatype": "application/json",
                "filename": file.name,
                "vendor": "onrecord",
                "product": file.model,
                "schema": "onrecord-transcript-v1",
                "content_hash": content_hash(file.bytes),
            })
        })
        .into_iter()
        .collect();

    let mut attachments: Vec<Value> = detail
        .participants
        .iter()
        .enumerate()
        .map(|(index, participant)| {
            json!({
                "purpose": "consent-evidence",
                // §4.4.2 `start`: when it was exchanged; evidence is part of the call's record.
                "start": start,
                "party": organisation,
                "dialog": 0,
                "mediatype": "application/json",
                "encoding": "json",
                "body": {
                    "participant": index,
                    "evidence": participant.evidence.iter().map(|e| json!({
                        "kind": e.kind.as_str(),
                        "at": e.at.map(time),
                        "reference": e.reference,
                        "source": e.source.as_str(),
                    })).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    attachments.extend(metadata.iter().map(|file| {
        json!({
            "purpose": "siprec-metadata",
            "start": start,
            "party": organisation,
            "dialog": 0,
            "mediatype": "application/json",
            "filename": file.name,
            "content_hash": content_hash(file.bytes),
        })
    }));
    attachments.push(json!({
        "purpose": "recording-metadata",
        "start": start,
        "party": organisation,
        "dialog": 0,
        "mediatype": "application/json",
        "encoding": "json",
        "body": recording_json(detail),
    }));

    json!({
        "vcon": VCON_SYNTAX,
        // §4.1.2 suggests a version 8 UUID; the recording's own id (a UUIDv7, globally
        // unique) names the vCon so that it points at the recording it describes.
        "uuid": recording.id,
        "created_at": time(created_at),
        "extensions": [EXTENSION],
        "parties": parties,
        "dialog": dialog,
        "analysis": analysis,
        "attachments": attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_sha512_in_unpadded_base64url() {
        // SHA-512("abc") from FIPS 180-2 Appendix C.1, base64url without padding.
        assert_eq!(
            content_hash(b"abc"),
            "sha512-3a81oZNherrMQXNJriBBMRLm-k6JqX6iCp7u5ktV05ohkpkqJ0_BqDa6PCOj_uu9RU1EI2Q86A4qmslPpUyknw"
        );
    }
}
