//! One recorded stream's media, from RTP datagrams to the stored plaintext and back to audio.
//!
//! Owns: the **stored stream format v1** (see [`format`]; also `testdata/media/README.md`)
//! with its writer ([`StreamWriter`]: one reusable buffer, full chunks handed to the caller
//! for sealing) and bounded reader ([`StreamReader`]); the live [`StreamRecorder`] that turns
//! a stream's datagrams into records (payloads stored as received, placed on a timeline
//! shared by all streams of a recording, with loss/inactivity/pause/hold/no-consent gaps,
//! SSRC and codec changes, and deduplicated RFC 4733 telephone events); the [`GapMap`] for
//! the catalog; and, off the hot path, G.711/G.722 decoding, WAV rendering and raw payload
//! extraction for export and transcription.
//!
//! Never does: encryption (the `seal` crate seals the chunks this crate produces), I/O,
//! clocks (time is an argument), transcoding on the hot path, allocation per packet.
//!
//! Memory per stream: [`StreamRecorder`] is a few hundred bytes plus its buffer, one
//! chunk ([`LIVE_CHUNK_SIZE`], 16 KiB) and 1.5 KiB of slack; see `size_of` in the tests.

mod codec;
pub mod format;
mod gap;
mod recorder;
mod render;
mod writer;

pub use codec::{
    Decoder, OPUS_DECODE_RATE, alaw_to_linear, mulaw_to_linear, opus_packet_samples, sample_rate,
};
pub use format::{GapReason, Record, Records, SourceCause, StreamHeader, StreamReader};
pub use gap::{Gap, GapMap, GapMapBuilder};
pub use recorder::{RecorderConfig, RecorderStatistics, StreamRecorder};
pub use render::{
    PayloadOrder, RawPayloads, RenderOptions, RenderSummary, raw_payloads, render_wav, wav_header,
};
pub use writer::{
    ARCHIVE_CHUNK_SIZE, ChunkReady, LIVE_CHUNK_SIZE, MAX_AUDIO_PAYLOAD_LEN, MAX_RECORD_LEN,
    MIN_CHUNK_SIZE, StreamWriter, WriterConfig,
};

/// Why a stream cannot be recorded, read or rendered.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The datagram is not RTP (caused by the remote peer).
    #[error("RTP packet refused: {0}")]
    Rtp(#[from] rtp::RtpError),
    /// The caller's SDP mapping has no audio format for the primary payload type.
    #[error("primary payload type {0} has no audio format in the payload-type map")]
    PrimaryPayloadType(u8),
    #[error("chunk size {0} is below the 1 KiB minimum")]
    ChunkSize(usize),
    #[error("audio payload of {0} bytes exceeds the stored maximum")]
    PayloadTooLarge(usize),
    #[error("the stream is finished; nothing more can be written")]
    Finished,
    /// Stored bytes are not a v1 stream (caused by the bytes' origin).
    #[error("stream does not start with the ORMS magic")]
    Magic,
    #[error("stream format version {0} is not supported (this build reads version 1)")]
    Version(u8),
    #[error("stream is malformed: {0}")]
    Malformed(&'static str),
    #[error("unknown record kind {0:#04x}")]
    UnknownRecordKind(u8),
    #[error("stream ends inside a field")]
    Truncated,
    #[error("stream ends inside the record at byte {offset} after the header")]
    TruncatedRecord { offset: usize },
    /// Decoding or rendering an encoding this build cannot decode.
    #[error("codec {0} cannot be decoded by this build")]
    UnsupportedCodec(&'static str),
    #[error("stream mixes sample rates {first} and {second}; render each part separately")]
    MixedSampleRates { first: u32, second: u32 },
    #[error("rendered audio would last {seconds} s, over the {limit} s limit")]
    TooLong { seconds: u64, limit: u32 },
    #[error("writing rendered audio failed: {0}")]
    Output(#[from] std::io::Error),
}
