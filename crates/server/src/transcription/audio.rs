//! Decrypted recordings back to 16-bit PCM per channel, for transcription: an import's
//! original file (WAV with 16-bit PCM, µ-law or A-law; headerless G.711), a live SIPREC
//! stream (rendered on its wall-clock timeline by `media::render_wav`).
//!
//! FLAC, MP3 and Ogg/Opus imports are decoded by [`super::compressed`].

use super::compressed::{self, Compressed};

/// Longest audio decoded for one recording: 4 hours per channel at 48 kHz.
pub(super) const MAX_SAMPLES_PER_CHANNEL: usize = 4 * 3_600 * 48_000;
pub(super) const MAX_CHANNELS: usize = 8;
const MAX_CHUNKS: usize = 64;

/// Why audio could not be decoded for transcription.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{0} audio is not transcribed")]
    Unsupported(String),
    #[error("cannot decode: {0}")]
    Decode(String),
    #[error("malformed WAV: {0}")]
    Malformed(&'static str),
    #[error("audio longer than 4 hours is not transcribed")]
    TooLong,
    #[error("live stream: {0}")]
    Live(String),
}

/// Decoded audio: one sample vector per channel, all at `sample_rate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    pub sample_rate: u32,
    pub channels: Vec<Vec<i16>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Linear16,
    Mulaw,
    Alaw,
}

fn u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// An imported file, by the format the import probed (`details.format`).
pub fn decode_import(
    bytes: &[u8],
    format: &str,
    sample_rate: u32,
    channels: u16,
) -> Result<Channels, AudioError> {
    match format {
        "wav-pcm16" | "wav-mulaw" | "wav-alaw" => decode_wav(bytes),
        "raw-pcmu" => deinterleave(bytes, Encoding::Mulaw, sample_rate, channels),
        "raw-pcma" => deinterleave(bytes, Encoding::Alaw, sample_rate, channels),
        "flac" => compressed::decode(bytes, Compressed::Flac),
        "mp3" => compressed::decode(bytes, Compressed::Mp3),
        "ogg-opus" => compressed::decode(bytes, Compressed::OggOpus),
        other => Err(AudioError::Unsupported(other.to_owned())),
    }
}

/// RIFF/WAVE with 16-bit PCM (format 1), A-law (6) or µ-law (7), or the extensible format
/// carrying one of them.
pub fn decode_wav(bytes: &[u8]) -> Result<Channels, AudioError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(AudioError::Malformed("not RIFF/WAVE"));
    }
    let mut offset = 12usize;
    let mut format: Option<(Encoding, u32, u16)> = None;
    for _ in 0..MAX_CHUNKS {
        let id = bytes
            .get(offset..offset + 4)
            .ok_or(AudioError::Malformed("no data chunk"))?;
        let size = u32_le(bytes, offset + 4).ok_or(AudioError::Malformed("truncated chunk"))?;
        let start = offset + 8;
        let length = usize::try_from(size).unwrap_or(usize::MAX);
        let end = start.saturating_add(length).min(bytes.len());
        let body = bytes
            .get(start..end)
            .ok_or(AudioError::Malformed("truncated chunk"))?;
        if id == b"fmt " {
            let tag = u16_le(body, 0).ok_or(AudioError::Malformed("short fmt chunk"))?;
            let channels = u16_le(body, 2).ok_or(AudioError::Malformed("short fmt chunk"))?;
            let rate = u32_le(body, 4).ok_or(AudioError::Malformed("short fmt chunk"))?;
            let bits = u16_le(body, 14).ok_or(AudioError::Malformed("short fmt chunk"))?;
            // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format.
            let tag = if tag == 0xFFFE {
                u16_le(body, 24).ok_or(AudioError::Malformed("short extensible fmt"))?
            } else {
                tag
            };
            let encoding = match (tag, bits) {
                (1, 16) => Encoding::Linear16,
                (6, 8) => Encoding::Alaw,
                (7, 8) => Encoding::Mulaw,
                _ => {
                    return Err(AudioError::Unsupported(format!(
                        "WAV format {tag} with {bits}-bit samples"
                    )));
                }
            };
            format = Some((encoding, rate, channels));
        } else if id == b"data" {
            let (encoding, rate, channels) =
                format.ok_or(AudioError::Malformed("data before fmt"))?;
            return deinterleave(body, encoding, rate, channels);
        }
        offset = start.saturating_add(length).saturating_add(length & 1);
    }
    Err(AudioError::Malformed("too many chunks"))
}

fn deinterleave(
    data: &[u8],
    encoding: Encoding,
    sample_rate: u32,
    channels: u16,
) -> Result<Channels, AudioError> {
    let count = usize::from(channels);
    if count == 0 || count > MAX_CHANNELS || sample_rate == 0 {
        return Err(AudioError::Malformed("channel count or sample rate"));
    }
    let width = if encoding == Encoding::Linear16 { 2 } else { 1 };
    let frames = data.len() / (width * count);
    if frames > MAX_SAMPLES_PER_CHANNEL {
        return Err(AudioError::TooLong);
    }
    let mut out = vec![Vec::with_capacity(frames); count];
    for (index, frame) in data.chunks_exact(width * count).enumerate() {
        if index >= frames {
            break;
        }
        for (channel, sample) in frame.chunks_exact(width).enumerate() {
            let value = match encoding {
                Encoding::Linear16 => i16::from_le_bytes([sample[0], sample[1]]),
                Encoding::Mulaw => media::mulaw_to_linear(sample[0]),
                Encoding::Alaw => media::alaw_to_linear(sample[0]),
            };
            out[channel].push(value);
        }
    }
    Ok(Channels {
        sample_rate,
        channels: out,
    })
}

/// A live stream (`application/x-onrecord-rtp-v1`) as mono PCM on its wall-clock timeline.
pub fn decode_live(stream: &[u8]) -> Result<Channels, AudioError> {
    let mut wav = Vec::new();
    media::render_wav(stream, &media::RenderOptions::default(), &mut wav)
        .map_err(|error| AudioError::Live(error.to_string()))?;
    decode_wav(&wav)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(tag: u16, bits: u16, channels: u16, rate: u32, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"RIFF".to_vec();
        bytes.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&channels.to_le_bytes());
        bytes.extend_from_slice(&rate.to_le_bytes());
        let block = channels * bits / 8;
        bytes.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        bytes.extend_from_slice(&block.to_le_bytes());
        bytes.extend_from_slice(&bits.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn stereo_mulaw_wav_splits_into_two_channels() {
        // µ-law 0xFF is 0; 0x80 is the largest positive value.
        let decoded = decode_wav(&wav(7, 8, 2, 8_000, &[0xFF, 0x80, 0xFF, 0x80]));
        let decoded = decoded.map_err(|e| e.to_string());
        assert_eq!(
            decoded,
            Ok(Channels {
                sample_rate: 8_000,
                channels: vec![vec![0, 0], vec![32_124, 32_124]],
            })
        );
    }

    #[test]
    fn pcm16_mono_wav_reads_samples_in_order() {
        let data: Vec<u8> = [1i16, -2, 300]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let decoded = decode_wav(&wav(1, 16, 1, 16_000, &data)).map_err(|e| e.to_string());
        assert_eq!(
            decoded,
            Ok(Channels {
                sample_rate: 16_000,
                channels: vec![vec![1, -2, 300]],
            })
        );
    }

    #[test]
    fn unknown_formats_are_refused_by_name() {
        let refused = decode_import(b"fLaC", "aac", 44_100, 2);
        assert!(matches!(refused, Err(AudioError::Unsupported(name)) if name == "aac"));
        assert!(matches!(
            decode_wav(b"RIFF\0\0\0\0WAVE"),
            Err(AudioError::Malformed(_))
        ));
    }
}
