//! FLAC and MP3, read through symphonia's demuxers (headers and frame boundaries only; no
//! audio is decoded). The length comes from the FLAC STREAMINFO block or the MP3 Xing/Info or
//! VBRI header (symphonia estimates it from the bit rate for plain CBR files); when a file
//! does not state it, its packets are walked and their durations summed.

use std::io::{Cursor, ErrorKind};

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::CODEC_ID_MP3;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::default::formats::{FlacReader, MpaReader};

use super::{
    AudioFacts, AudioFormat, Container, MAX_CHANNELS, MAX_SAMPLE_RATE, ProbeError, duration_ms,
};

/// ID3v2 header: `ID3`, version (2), flags (1), syncsafe size (4).
const ID3_HEADER_BYTES: usize = 10;
const ID3_FLAG_FOOTER: u8 = 0x10;

pub(super) fn probe_flac(bytes: &[u8]) -> Result<AudioFacts, ProbeError> {
    let reader = FlacReader::try_new(stream(bytes), FormatOptions::default())
        .map_err(|error| from_symphonia(Container::Flac, error))?;
    facts(Box::new(reader), Container::Flac, AudioFormat::Flac)
}

pub(super) fn probe_mp3(bytes: &[u8]) -> Result<AudioFacts, ProbeError> {
    let audio = skip_id3v2(bytes)?;
    if audio.is_empty() {
        return Err(ProbeError::Truncated {
            format: Container::Mp3,
            what: "no audio after the ID3v2 tag",
        });
    }
    let reader = MpaReader::try_new(stream(audio), FormatOptions::default())
        .map_err(|error| from_symphonia(Container::Mp3, error))?;
    facts(Box::new(reader), Container::Mp3, AudioFormat::Mp3)
}

/// Whether `bytes` starts with an MPEG audio layer III frame header (ISO/IEC 11172-3 §2.4.2.3,
/// 13818-3, and the unofficial MPEG 2.5): 11 sync bits, a version that is not reserved,
/// layer III, a bit-rate index that is neither free (0) nor invalid (15), a sample-rate index
/// that is not reserved.
pub(super) fn is_mp3_frame_header(bytes: &[u8]) -> bool {
    let [first, second, third, ..] = *bytes else {
        return false;
    };
    let sync = first == 0xFF && second & 0xE0 == 0xE0;
    let version = (second >> 3) & 0b11;
    let layer = (second >> 1) & 0b11;
    let bit_rate = third >> 4;
    let sample_rate = (third >> 2) & 0b11;
    sync && version != 0b01
        && layer == 0b01
        && bit_rate != 0
        && bit_rate != 0xF
        && sample_rate != 0b11
}

/// The bytes after a leading ID3v2 tag (ID3v2.4 §3.1), or all of them when there is none.
fn skip_id3v2(bytes: &[u8]) -> Result<&[u8], ProbeError> {
    if !bytes.starts_with(b"ID3") {
        return Ok(bytes);
    }
    let Some(header) = bytes.get(..ID3_HEADER_BYTES) else {
        return Err(ProbeError::Truncated {
            format: Container::Mp3,
            what: "the ID3v2 header is shorter than 10 bytes",
        });
    };
    let size_bytes = &header[6..10];
    if size_bytes.iter().any(|byte| byte & 0x80 != 0) {
        return Err(ProbeError::malformed(
            Container::Mp3,
            "the ID3v2 size is not syncsafe",
        ));
    }
    let size = size_bytes
        .iter()
        .fold(0usize, |size, byte| (size << 7) | usize::from(*byte));
    let footer = if header[5] & ID3_FLAG_FOOTER != 0 {
        10
    } else {
        0
    };
    let end = ID3_HEADER_BYTES + size + footer;
    bytes.get(end..).ok_or(ProbeError::Truncated {
        format: Container::Mp3,
        what: "the ID3v2 tag is longer than the file",
    })
}

fn stream(bytes: &[u8]) -> MediaSourceStream<'_> {
    MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    )
}

fn facts(
    mut reader: Box<dyn FormatReader + '_>,
    container: Container,
    format: AudioFormat,
) -> Result<AudioFacts, ProbeError> {
    let Some(track) = reader.tracks().first() else {
        return Err(ProbeError::malformed(container, "no audio track"));
    };
    let Some(CodecParameters::Audio(parameters)) = &track.codec_params else {
        return Err(ProbeError::malformed(
            container,
            "no audio codec parameters",
        ));
    };
    if format == AudioFormat::Mp3 && parameters.codec != CODEC_ID_MP3 {
        return Err(ProbeError::unsupported(
            container,
            "MPEG audio layers I and II",
        ));
    }
    let sample_rate = parameters
        .sample_rate
        .filter(|rate| (1..=MAX_SAMPLE_RATE).contains(rate))
        .ok_or_else(|| ProbeError::malformed(container, "no valid sample rate"))?;
    let channels = parameters
        .channels
        .as_ref()
        .and_then(|channels| u16::try_from(channels.count()).ok())
        .filter(|count| (1..=MAX_CHANNELS).contains(count))
        .ok_or_else(|| ProbeError::malformed(container, "no valid channel count"))?;
    let track_id = track.id;
    let frames = match track.num_frames {
        Some(frames) => frames,
        None => count_frames(reader.as_mut(), track_id, container)?,
    };
    Ok(AudioFacts {
        format,
        content_tag: format.content_tag(),
        sample_rate,
        channels,
        duration_ms: duration_ms(frames, sample_rate),
    })
}

/// Sums the durations of the track's packets: a demux, not a decode. Every packet consumes
/// input, so this ends with the file.
fn count_frames(
    reader: &mut dyn FormatReader,
    track_id: u32,
    container: Container,
) -> Result<u64, ProbeError> {
    let mut frames = 0u64;
    loop {
        match reader.next_packet() {
            Ok(Some(packet)) if packet.track_id == track_id => {
                frames = frames.saturating_add(packet.dur.get());
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(frames),
            // Files cut off mid-frame end here: what was whole counts.
            Err(SymphoniaError::IoError(error)) if error.kind() == ErrorKind::UnexpectedEof => {
                return Ok(frames);
            }
            Err(error) => return Err(from_symphonia(container, error)),
        }
    }
}

fn from_symphonia(container: Container, error: SymphoniaError) -> ProbeError {
    match error {
        SymphoniaError::IoError(error) if error.kind() == ErrorKind::UnexpectedEof => {
            ProbeError::Truncated {
                format: container,
                what: "the headers end early",
            }
        }
        SymphoniaError::Unsupported(feature) => ProbeError::unsupported(container, feature),
        other => ProbeError::malformed(container, other.to_string()),
    }
}
