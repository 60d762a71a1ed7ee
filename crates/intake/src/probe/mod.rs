//! Audio probing: which format an import file is, and its rate, channels and duration.
//!
//! The file's name (its extension) claims a format, its first bytes reveal one; the two must
//! agree. WAV and Ogg/Opus are read from their headers (O(header) and O(pages), never a
//! decode), FLAC and MP3 through symphonia's demuxers (no decoding either), raw G.711 from the
//! byte count and the sidecar's `codec`.

mod compressed;
mod ogg;
mod wav;

use std::fmt;

use crate::sidecar::{RawCodec, RawEncoding};

/// The audio formats an import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioFormat {
    /// RIFF/WAVE, 16-bit linear PCM.
    WavPcm16,
    /// RIFF/WAVE, G.711 µ-law (format tag 7).
    WavMulaw,
    /// RIFF/WAVE, G.711 A-law (format tag 6).
    WavAlaw,
    Flac,
    /// MPEG-1/2 audio layer III.
    Mp3,
    /// Opus in Ogg (RFC 7845).
    OggOpus,
    /// Headerless G.711 µ-law, declared by the sidecar.
    RawPcmu,
    /// Headerless G.711 A-law, declared by the sidecar.
    RawPcma,
}

impl AudioFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AudioFormat::WavPcm16 => "wav-pcm16",
            AudioFormat::WavMulaw => "wav-mulaw",
            AudioFormat::WavAlaw => "wav-alaw",
            AudioFormat::Flac => "flac",
            AudioFormat::Mp3 => "mp3",
            AudioFormat::OggOpus => "ogg-opus",
            AudioFormat::RawPcmu => "raw-pcmu",
            AudioFormat::RawPcma => "raw-pcma",
        }
    }

    /// The media type stored with the recording and served on playback.
    pub fn content_tag(self) -> &'static str {
        match self {
            AudioFormat::WavPcm16 | AudioFormat::WavMulaw | AudioFormat::WavAlaw => "audio/wav",
            AudioFormat::Flac => "audio/flac",
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::OggOpus => "audio/ogg",
            // RFC 4856 §2.1 registers audio/PCMU and audio/PCMA.
            AudioFormat::RawPcmu => "audio/PCMU",
            AudioFormat::RawPcma => "audio/PCMA",
        }
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What probing learnt about one audio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFacts {
    pub format: AudioFormat,
    /// MIME-ish media type, e.g. `audio/wav`.
    pub content_tag: &'static str,
    /// Samples per second per channel (48,000 for Opus, whatever the input rate was).
    pub sample_rate: u32,
    pub channels: u16,
    /// Playable duration, rounded down to the millisecond.
    pub duration_ms: u64,
}

/// The container family, as claimed by a name or revealed by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Wav,
    Flac,
    Mp3,
    Ogg,
    RawG711,
}

impl Container {
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Wav => "WAV",
            Container::Flac => "FLAC",
            Container::Mp3 => "MP3",
            Container::Ogg => "Ogg",
            Container::RawG711 => "raw G.711",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an audio file was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the audio file is empty")]
    Empty,
    #[error(
        "the audio file is not WAV, FLAC, MP3 or Ogg/Opus (raw G.711 needs the sidecar's \"codec\")"
    )]
    Unrecognised,
    #[error("the file is named as {claimed} but its content is {found}")]
    Mismatch {
        claimed: Container,
        found: Container,
    },
    #[error("the file is named as raw {claimed} but the sidecar declares raw {declared}")]
    EncodingMismatch {
        claimed: &'static str,
        declared: &'static str,
    },
    #[error("raw G.711 audio needs the sidecar's \"codec\" (\"pcmu\" or \"pcma\")")]
    RawNeedsCodec,
    #[error("the sidecar declares raw G.711 but the file is a {found} container")]
    RawCodecOnContainer { found: Container },
    #[error("{format}: the file ends early: {what}")]
    Truncated {
        format: Container,
        what: &'static str,
    },
    #[error("{format}: malformed: {what}")]
    Malformed { format: Container, what: String },
    #[error("{format}: not supported: {what}")]
    Unsupported { format: Container, what: String },
}

impl ProbeError {
    pub(crate) fn malformed(format: Container, what: impl Into<String>) -> ProbeError {
        ProbeError::Malformed {
            format,
            what: what.into(),
        }
    }

    pub(crate) fn unsupported(format: Container, what: impl Into<String>) -> ProbeError {
        ProbeError::Unsupported {
            format,
            what: what.into(),
        }
    }
}

/// The most channels a file may have (telephony has 1 or 2; stereo-per-party exports a few).
pub(crate) const MAX_CHANNELS: u16 = 16;
/// The highest sample rate accepted.
pub(crate) const MAX_SAMPLE_RATE: u32 = 384_000;

/// Probes one audio file. `extension` is the file name's extension without the dot (any case;
/// `None` when there is none), `raw_codec` the sidecar's `codec`. Reads headers only, except
/// for MP3 and FLAC files that do not state their length (then their frames are walked).
/// Never panics.
pub fn probe_audio(
    extension: Option<&str>,
    bytes: &[u8],
    raw_codec: Option<RawCodec>,
) -> Result<AudioFacts, ProbeError> {
    if bytes.is_empty() {
        return Err(ProbeError::Empty);
    }
    let claim = extension.and_then(claim_from_extension);
    if let Some(codec) = raw_codec {
        return probe_declared_raw(claim, bytes, codec);
    }
    if let Some(Claim {
        container: Container::RawG711,
        ..
    }) = claim
    {
        return Err(ProbeError::RawNeedsCodec);
    }
    let found = sniff(bytes).ok_or(ProbeError::Unrecognised)?;
    if let Some(claim) = claim
        && claim.container != found
    {
        return Err(ProbeError::Mismatch {
            claimed: claim.container,
            found,
        });
    }
    match found {
        Container::Wav => wav::probe(bytes),
        Container::Flac => compressed::probe_flac(bytes),
        Container::Mp3 => compressed::probe_mp3(bytes),
        Container::Ogg => ogg::probe(bytes),
        // `sniff` never reports raw audio: it has no signature.
        Container::RawG711 => Err(ProbeError::RawNeedsCodec),
    }
}

fn probe_declared_raw(
    claim: Option<Claim>,
    bytes: &[u8],
    codec: RawCodec,
) -> Result<AudioFacts, ProbeError> {
    // Only unmistakable signatures count here: an MPEG frame sync (0xFFEx) is ordinary µ-law
    // content (0xFF is µ-law silence).
    if let Some(found) = sniff_signature(bytes) {
        return Err(ProbeError::RawCodecOnContainer { found });
    }
    match claim {
        Some(Claim {
            container: Container::RawG711,
            encoding: Some(named),
        }) if named != codec.encoding => Err(ProbeError::EncodingMismatch {
            claimed: named.as_str(),
            declared: codec.encoding.as_str(),
        }),
        Some(Claim { container, .. }) if container != Container::RawG711 => {
            Err(ProbeError::Mismatch {
                claimed: container,
                found: Container::RawG711,
            })
        }
        _ => probe_raw(bytes, codec),
    }
}

/// Raw G.711: one byte per sample per channel, so the duration is the byte count over
/// `sample_rate * channels`.
fn probe_raw(bytes: &[u8], codec: RawCodec) -> Result<AudioFacts, ProbeError> {
    if codec.sample_rate == 0 || codec.channels == 0 {
        return Err(ProbeError::malformed(
            Container::RawG711,
            "sample rate and channels must be positive",
        ));
    }
    let length = bytes.len() as u64;
    let channels = u64::from(codec.channels);
    if !length.is_multiple_of(channels) {
        return Err(ProbeError::malformed(
            Container::RawG711,
            format!("{length} bytes is not a whole number of {channels}-channel samples"),
        ));
    }
    let frames = length / channels;
    let format = match codec.encoding {
        RawEncoding::Pcmu => AudioFormat::RawPcmu,
        RawEncoding::Pcma => AudioFormat::RawPcma,
    };
    Ok(AudioFacts {
        format,
        content_tag: format.content_tag(),
        sample_rate: codec.sample_rate,
        channels: codec.channels,
        duration_ms: duration_ms(frames, codec.sample_rate),
    })
}

/// Whole milliseconds in `frames` at `sample_rate`, rounded down.
pub(crate) fn duration_ms(frames: u64, sample_rate: u32) -> u64 {
    if sample_rate == 0 {
        return 0;
    }
    let milliseconds = u128::from(frames) * 1_000 / u128::from(sample_rate);
    u64::try_from(milliseconds).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    container: Container,
    /// For raw extensions that name the law (`.ul`, `.alaw`…).
    encoding: Option<RawEncoding>,
}

fn claim_from_extension(extension: &str) -> Option<Claim> {
    let extension = extension.trim_start_matches('.').to_ascii_lowercase();
    let (container, encoding) = match extension.as_str() {
        "wav" | "wave" => (Container::Wav, None),
        "flac" => (Container::Flac, None),
        "mp3" => (Container::Mp3, None),
        "ogg" | "oga" | "opus" => (Container::Ogg, None),
        "raw" | "g711" => (Container::RawG711, None),
        "ul" | "ulaw" | "mulaw" | "mu" | "pcmu" => (Container::RawG711, Some(RawEncoding::Pcmu)),
        "al" | "alaw" | "pcma" => (Container::RawG711, Some(RawEncoding::Pcma)),
        _ => return None,
    };
    Some(Claim {
        container,
        encoding,
    })
}

/// Signatures that cannot be mistaken for anything else.
fn sniff_signature(bytes: &[u8]) -> Option<Container> {
    // Any RIFF file is taken for WAV; the WAV probe then says if it is some other RIFF form.
    if bytes.starts_with(b"RIFF") || bytes.starts_with(b"RF64") {
        return Some(Container::Wav);
    }
    if bytes.starts_with(b"fLaC") {
        return Some(Container::Flac);
    }
    if bytes.starts_with(b"OggS") {
        return Some(Container::Ogg);
    }
    if bytes.starts_with(b"ID3") {
        return Some(Container::Mp3);
    }
    None
}

fn sniff(bytes: &[u8]) -> Option<Container> {
    sniff_signature(bytes)
        .or_else(|| compressed::is_mp3_frame_header(bytes).then_some(Container::Mp3))
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
