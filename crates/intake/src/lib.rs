//! What an import reads: the JSON sidecar that describes a call, and the facts of its audio
//! file (format, rate, channels, duration).
//!
//! Owns: the sidecar schema and its bounds ([`parse_sidecar`], documented in
//! `docs/import.md`), format sniffing and the header-only probes of WAV, FLAC, MP3, Ogg/Opus
//! and raw G.711 ([`probe_audio`]).
//! Never does: file or directory I/O (callers hand in bytes), decoding or transcoding audio,
//! consent decisions (the `consent` crate judges the evidence parsed here), storing anything.
//! Hostile input never panics: every size is bounded and every error says what was expected.

mod json_path;
mod probe;
mod sidecar;

pub use probe::{AudioFacts, AudioFormat, Container, ProbeError, probe_audio};
pub use sidecar::{
    MAX_EVIDENCE_PER_PARTICIPANT, MAX_PARTICIPANTS, MAX_SIDECAR_BYTES, MAX_STRING_BYTES,
    MAX_TAG_BYTES, MAX_TAGS, RAW_CHANNELS, RAW_SAMPLE_RATES, RawCodec, RawEncoding, Sidecar,
    SidecarError, SidecarParticipant, parse_sidecar,
};
