//! The transcript of a recording as sealed into the archive: every participant's segments,
//! interleaved by time. It is content (it says what people said), so it is sealed under the
//! recording's data key like audio, and erasing the recording's key shreds it.

use onrecord_transcribe::Transcript;
use serde::{Deserialize, Serialize};

/// Stream label (and object name) of a recording's transcript.
pub const TRANSCRIPT_LABEL: &str = "transcript";
/// Media type of the sealed transcript.
pub const TRANSCRIPT_CONTENT_TYPE: &str = "application/json";
/// Label of speech from a channel that belongs to no known participant (a mono import).
pub const UNATTRIBUTED: &str = "unattributed";

/// Version 1 of the sealed transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTranscript {
    pub version: u32,
    /// The model that produced it, e.g. `whisper tiny.en`.
    pub model: String,
    /// Segments of every participant, ordered by start time.
    pub segments: Vec<StoredSegment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSegment {
    /// Ordinal of the participant who spoke (`None`: unattributed).
    pub participant: Option<u32>,
    /// The participant's role or the stream label, shown with the text.
    pub label: String,
    /// The stream or channel it was transcribed from.
    pub source: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub words: Vec<StoredWord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWord {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// One transcribed stream or channel and whom it belongs to.
#[derive(Debug, Clone)]
pub struct Attributed {
    pub participant: Option<u32>,
    pub label: String,
    pub source: String,
    /// Where the stream starts on the recording's timeline.
    pub offset_ms: u64,
    pub transcript: Transcript,
}

/// Interleaves the participants' transcripts by start time (ties: by participant).
pub fn interleave(model: &str, parts: Vec<Attributed>) -> StoredTranscript {
    let mut segments: Vec<StoredSegment> = parts
        .into_iter()
        .flat_map(|part| {
            let Attributed {
                participant,
                label,
                source,
                offset_ms,
                transcript,
            } = part;
            transcript
                .segments
                .into_iter()
                .filter(|segment| !segment.text.trim().is_empty())
                .map(move |segment| StoredSegment {
                    participant,
                    label: label.clone(),
                    source: source.clone(),
                    start_ms: segment.start_ms + offset_ms,
                    end_ms: segment.end_ms + offset_ms,
                    text: segment.text.trim().to_owned(),
                    words: segment
                        .words
                        .into_iter()
                        .map(|word| StoredWord {
                            start_ms: word.start_ms + offset_ms,
                            end_ms: word.end_ms + offset_ms,
                            text: word.text,
                        })
                        .collect(),
                })
        })
        .collect();
    segments.sort_by_key(|segment| (segment.start_ms, segment.participant, segment.end_ms));
    StoredTranscript {
        version: 1,
        model: model.to_owned(),
        segments,
    }
}

#[cfg(test)]
mod tests {
    use onrecord_transcribe::Segment;

    use super::*;

    fn part(participant: u32, starts: &[u64]) -> Attributed {
        Attributed {
            participant: Some(participant),
            label: format!("p{participant}"),
            source: "original".into(),
            offset_ms: 0,
            transcript: Transcript {
                segments: starts
                    .iter()
                    .map(|&start_ms| Segment {
                        start_ms,
                        end_ms: start_ms + 500,
                        text: format!(" said at {start_ms}"),
                        words: Vec::new(),
                        avg_logprob: 0.0,
                        no_speech_prob: 0.0,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn two_participants_interleave_by_start_time() {
        let merged = interleave("m", vec![part(1, &[0, 6_000]), part(2, &[3_000, 9_000])]);
        let order: Vec<(Option<u32>, u64)> = merged
            .segments
            .iter()
            .map(|segment| (segment.participant, segment.start_ms))
            .collect();
        assert_eq!(
            order,
            vec![
                (Some(1), 0),
                (Some(2), 3_000),
                (Some(1), 6_000),
                (Some(2), 9_000)
            ]
        );
        assert_eq!(merged.segments[0].text, "said at 0");
    }
}
