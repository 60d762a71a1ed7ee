//! The WAV fast path: the RIFF header is read by hand, so probing costs O(header) whatever
//! the length of the call (bulk import aims at ≥ 1,000 three-minute calls per second per core).
//!
//! Layout (Microsoft RIFF/WAVE; RFC 2361 registers the format tags): `RIFF` size `WAVE`, then
//! chunks of `id(4) size(u32 LE) body`, each body padded to an even length. `fmt ` must come
//! before `data`; other chunks (`LIST`, `fact`, `bext`…) are skipped.

use super::{
    AudioFacts, AudioFormat, Container, MAX_CHANNELS, MAX_SAMPLE_RATE, ProbeError, duration_ms,
};

const FORMAT_PCM: u16 = 0x0001;
const FORMAT_ALAW: u16 = 0x0006;
const FORMAT_MULAW: u16 = 0x0007;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// The tail shared by every `KSDATAFORMAT_SUBTYPE_*` GUID whose first two bytes are a
/// format tag (bytes 2..16 of `xxxx0000-0000-0010-8000-00aa00389b71`, little-endian fields).
const SUBFORMAT_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];
/// Chunks skipped before `data` before the file is judged hostile.
const MAX_CHUNKS: usize = 256;
/// A `data` size some streaming writers leave in place: "until the end of the file".
const SIZE_UNKNOWN: u32 = 0xFFFF_FFFF;

const WAV: Container = Container::Wav;

struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits_per_sample: u16,
}

pub(super) fn probe(bytes: &[u8]) -> Result<AudioFacts, ProbeError> {
    if bytes.starts_with(b"RF64") {
        return Err(ProbeError::unsupported(WAV, "RF64 (WAV over 4 GiB)"));
    }
    if bytes.len() < 12 {
        return Err(ProbeError::Truncated {
            format: WAV,
            what: "the RIFF header is shorter than 12 bytes",
        });
    }
    if !bytes.starts_with(b"RIFF") || &bytes[8..12] != b"WAVE" {
        return Err(ProbeError::malformed(
            WAV,
            "a RIFF file that is not of form WAVE",
        ));
    }
    let mut offset: usize = 12;
    let mut format = None;
    for _ in 0..MAX_CHUNKS {
        let Some(header) = offset.checked_add(8).and_then(|end| bytes.get(offset..end)) else {
            return Err(ProbeError::Truncated {
                format: WAV,
                what: "no data chunk before the end of the file",
            });
        };
        let id = &header[..4];
        let size = u32_le(&header[4..8]);
        let body_start = offset + 8;
        let remaining = bytes.len() - body_start;
        if id == b"data" {
            let Some(format) = format else {
                return Err(ProbeError::malformed(
                    WAV,
                    "the data chunk comes before the fmt chunk",
                ));
            };
            let data_length = if size == SIZE_UNKNOWN {
                remaining as u64
            } else if u64::from(size) > remaining as u64 {
                return Err(ProbeError::Truncated {
                    format: WAV,
                    what: "the data chunk is longer than the file",
                });
            } else {
                u64::from(size)
            };
            return facts(&format, data_length);
        }
        let body_length = usize::try_from(size).unwrap_or(usize::MAX);
        if id == b"fmt " {
            if format.is_some() {
                return Err(ProbeError::malformed(WAV, "more than one fmt chunk"));
            }
            let Some(body) = bytes.get(body_start..body_start.saturating_add(body_length)) else {
                return Err(ProbeError::Truncated {
                    format: WAV,
                    what: "the fmt chunk is longer than the file",
                });
            };
            format = Some(parse_format(body)?);
        }
        // Chunk bodies are padded to an even length.
        let padded = body_length.saturating_add(body_length & 1);
        offset = body_start.saturating_add(padded);
    }
    Err(ProbeError::malformed(
        WAV,
        format!("more than {MAX_CHUNKS} chunks before the data chunk"),
    ))
}

fn parse_format(body: &[u8]) -> Result<Format, ProbeError> {
    if body.len() < 16 {
        return Err(ProbeError::malformed(
            WAV,
            "the fmt chunk is shorter than 16 bytes",
        ));
    }
    let mut tag = u16_le(&body[0..2]);
    if tag == FORMAT_EXTENSIBLE {
        // WAVE_FORMAT_EXTENSIBLE: cbSize(2) validBits(2) channelMask(4) subFormat GUID(16).
        let Some(guid) = body.get(24..40) else {
            return Err(ProbeError::malformed(
                WAV,
                "the extensible fmt chunk is shorter than 40 bytes",
            ));
        };
        if guid[2..] != SUBFORMAT_GUID_TAIL {
            return Err(ProbeError::unsupported(
                WAV,
                "an extensible sub-format that is not a format tag",
            ));
        }
        tag = u16_le(&guid[0..2]);
    }
    Ok(Format {
        tag,
        channels: u16_le(&body[2..4]),
        sample_rate: u32_le(&body[4..8]),
        block_align: u16_le(&body[12..14]),
        bits_per_sample: u16_le(&body[14..16]),
    })
}

fn facts(format: &Format, data_length: u64) -> Result<AudioFacts, ProbeError> {
    let audio_format = match (format.tag, format.bits_per_sample) {
        (FORMAT_PCM, 16) => AudioFormat::WavPcm16,
        (FORMAT_MULAW, 8) => AudioFormat::WavMulaw,
        (FORMAT_ALAW, 8) => AudioFormat::WavAlaw,
        (tag, bits) => {
            return Err(ProbeError::unsupported(
                WAV,
                format!(
                    "format tag 0x{tag:04x} with {bits} bits per sample (accepted: 16-bit PCM, 8-bit µ-law, 8-bit A-law)"
                ),
            ));
        }
    };
    if format.channels == 0 || format.channels > MAX_CHANNELS {
        return Err(ProbeError::malformed(
            WAV,
            format!(
                "{} channels (1 to {MAX_CHANNELS} accepted)",
                format.channels
            ),
        ));
    }
    if format.sample_rate == 0 || format.sample_rate > MAX_SAMPLE_RATE {
        return Err(ProbeError::malformed(
            WAV,
            format!(
                "a sample rate of {} (1 to {MAX_SAMPLE_RATE} accepted)",
                format.sample_rate
            ),
        ));
    }
    let bytes_per_frame = u32::from(format.channels) * u32::from(format.bits_per_sample / 8);
    if u32::from(format.block_align) != bytes_per_frame {
        return Err(ProbeError::malformed(
            WAV,
            format!(
                "block align {} does not match {} channels of {} bits",
                format.block_align, format.channels, format.bits_per_sample
            ),
        ));
    }
    // A trailing partial frame (a writer cut off mid-frame) is not audio; round down.
    let frames = data_length / u64::from(bytes_per_frame);
    Ok(AudioFacts {
        format: audio_format,
        content_tag: audio_format.content_tag(),
        sample_rate: format.sample_rate,
        channels: format.channels,
        duration_ms: duration_ms(frames, format.sample_rate),
    })
}

fn u16_le(bytes: &[u8]) -> u16 {
    let mut array = [0; 2];
    array.copy_from_slice(&bytes[..2]);
    u16::from_le_bytes(array)
}

fn u32_le(bytes: &[u8]) -> u32 {
    let mut array = [0; 4];
    array.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(array)
}
