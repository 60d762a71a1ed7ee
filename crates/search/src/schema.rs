//! The index schema: one document per transcript segment, carrying its recording's
//! searchable metadata so filters and text match in one query.

use tantivy::TantivyDocument;
use tantivy::schema::{FAST, Field, INDEXED, STORED, STRING, Schema, TEXT};

use crate::{RecordingDocument, SegmentDocument};

/// Handles of the schema's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub recording: Field,
    pub participant: Field,
    pub participant_label: Field,
    pub start: Field,
    pub end: Field,
    pub text: Field,
    pub started_at: Field,
    pub direction: Field,
    pub duration: Field,
    /// Every participant address of the recording (exact terms, not stored).
    pub address: Field,
    pub tags: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        recording: builder.add_text_field("recording", STRING | STORED),
        participant: builder.add_u64_field("participant", INDEXED | STORED),
        participant_label: builder.add_text_field("participant_label", STORED),
        start: builder.add_u64_field("start_ms", STORED),
        end: builder.add_u64_field("end_ms", STORED),
        text: builder.add_text_field("text", TEXT | STORED),
        started_at: builder.add_i64_field("started_at_ms", INDEXED | FAST),
        direction: builder.add_text_field("direction", STRING),
        duration: builder.add_u64_field("duration_ms", INDEXED | FAST),
        address: builder.add_text_field("address", STRING),
        tags: builder.add_text_field("tag", STRING),
    };
    (builder.build(), fields)
}

/// Addresses are matched exactly after trimming and lower-casing (`sip:Alice@Example.com`
/// and `sip:alice@example.com` are the same filter).
pub(crate) fn normalise_address(address: &str) -> String {
    address.trim().to_lowercase()
}

pub(crate) fn segment_document(
    fields: &Fields,
    recording: &RecordingDocument,
    segment: &SegmentDocument,
) -> TantivyDocument {
    let mut document = TantivyDocument::default();
    document.add_text(fields.recording, recording.recording.to_string());
    document.add_u64(fields.participant, u64::from(segment.participant));
    let label = recording
        .participants
        .iter()
        .find(|participant| participant.ordinal == segment.participant)
        .map(|participant| participant.label.as_str())
        .unwrap_or_default();
    document.add_text(fields.participant_label, label);
    document.add_u64(fields.start, segment.start_ms);
    document.add_u64(fields.end, segment.end_ms);
    document.add_text(fields.text, &segment.text);
    document.add_i64(fields.started_at, recording.started_at.timestamp_millis());
    document.add_text(fields.direction, recording.direction.as_str());
    document.add_u64(fields.duration, recording.duration_ms);
    for participant in &recording.participants {
        document.add_text(
            fields.address,
            normalise_address(participant.address.dangerous_reveal()),
        );
    }
    for tag in &recording.tags {
        document.add_text(fields.tags, tag);
    }
    document
}
