//! Compressed imports back to 16-bit PCM for transcription: FLAC and MP3 through symphonia's
//! demuxers and decoders, Ogg/Opus through symphonia's Ogg demuxer and the pure-Rust
//! `opus-decoder` (symphonia has no Opus decoder; libopus would add a C dependency).
//!
//! Opus is decoded straight at 16 kHz, the rate Whisper works at: an Opus decoder may render
//! at any of 8, 12, 16, 24 or 48 kHz (RFC 6716 §2), so no 48 kHz detour and no resampling.
//! The Ogg encapsulation's pre-skip and end trimming (RFC 7845 §4.2, §4.4) are counted in
//! 48 kHz samples and scaled to the output rate.

use std::io::Cursor;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::audio::{AudioError, Channels, MAX_CHANNELS, MAX_SAMPLES_PER_CHANNEL};

/// The rate Opus is decoded at.
const OPUS_OUTPUT_RATE: u32 = 16_000;
/// Ogg/Opus granule positions and pre-skip count 48 kHz samples (RFC 7845 §4).
const OPUS_GRANULE_RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms (RFC 6716 §3.2.5), per channel at the output rate.
const OPUS_MAX_PACKET_SAMPLES: usize = (OPUS_OUTPUT_RATE as usize) * 120 / 1000;

/// Which compressed format an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressed {
    Flac,
    Mp3,
    OggOpus,
}

impl Compressed {
    fn extension(self) -> &'static str {
        match self {
            Compressed::Flac => "flac",
            Compressed::Mp3 => "mp3",
            Compressed::OggOpus => "opus",
        }
    }
}

/// Decodes a whole compressed file into one PCM vector per channel.
///
/// The file comes from an import, so it is untrusted input to third-party decoders: a panic
/// inside one fails this file's job instead of the worker.
pub fn decode(bytes: &[u8], format: Compressed) -> Result<Channels, AudioError> {
    std::panic::catch_unwind(|| decode_unguarded(bytes, format)).unwrap_or_else(|_| {
        Err(AudioError::Decode(format!(
            "{format:?}: the decoder failed on this file"
        )))
    })
}

fn decode_unguarded(bytes: &[u8], format: Compressed) -> Result<Channels, AudioError> {
    let mut reader = open(bytes, format)?;
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or(AudioError::Malformed("no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or(AudioError::Malformed("no audio codec parameters"))?
        .clone();
    if format == Compressed::OggOpus || params.codec == CODEC_ID_OPUS {
        let channels = params.channels.as_ref().map_or(0, |c| c.count());
        let pre_skip = track.delay.map_or(0, u64::from);
        return decode_opus(reader.as_mut(), track_id, channels, pre_skip);
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|error| AudioError::Unsupported(format!("{format:?}: {error}")))?;
    let mut out: Vec<Vec<i16>> = Vec::new();
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut packet_samples: Vec<Vec<i16>> = Vec::new();
    while let Some(packet) = next_packet(reader.as_mut())? {
        if packet.track_id != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A corrupt frame loses that frame, not the call (what a player does too).
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(error) => return Err(AudioError::Decode(error.to_string())),
        };
        sample_rate = decoded.spec().rate();
        decoded.copy_to_vecs_planar::<i16>(&mut packet_samples);
        if out.is_empty() {
            if packet_samples.is_empty() || packet_samples.len() > MAX_CHANNELS {
                return Err(AudioError::Malformed("channel count"));
            }
            out = vec![Vec::new(); packet_samples.len()];
        }
        if packet_samples.len() != out.len() {
            return Err(AudioError::Malformed(
                "the channel count changes mid-stream",
            ));
        }
        for (channel, samples) in out.iter_mut().zip(&packet_samples) {
            channel.extend_from_slice(samples);
        }
        if out[0].len() > MAX_SAMPLES_PER_CHANNEL {
            return Err(AudioError::TooLong);
        }
    }
    if out.is_empty() || sample_rate == 0 {
        return Err(AudioError::Malformed("no audio decoded"));
    }
    Ok(Channels {
        sample_rate,
        channels: out,
    })
}

fn open(bytes: &[u8], format: Compressed) -> Result<Box<dyn FormatReader + '_>, AudioError> {
    let source = MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    );
    let mut hint = Hint::new();
    hint.with_extension(format.extension());
    symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|error| AudioError::Decode(format!("{format:?}: {error}")))
}

fn next_packet(
    reader: &mut dyn FormatReader,
) -> Result<Option<symphonia::core::packet::Packet>, AudioError> {
    match reader.next_packet() {
        Ok(packet) => Ok(packet),
        // A file cut short ends the audio where the cut is.
        Err(SymphoniaError::IoError(error))
            if error.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Ok(None)
        }
        Err(error) => Err(AudioError::Decode(error.to_string())),
    }
}

fn decode_opus(
    reader: &mut dyn FormatReader,
    track_id: u32,
    channels: usize,
    pre_skip: u64,
) -> Result<Channels, AudioError> {
    // Channel mapping family 0 is mono or stereo (RFC 7845 §5.1.1.1); more channels need the
    // multistream decoder and are not recordings of a phone call.
    if !(1..=2).contains(&channels) {
        return Err(AudioError::Unsupported(format!(
            "Opus with {channels} channels"
        )));
    }
    let mut decoder = opus_decoder::OpusDecoder::new(OPUS_OUTPUT_RATE, channels)
        .map_err(|error| AudioError::Decode(format!("Opus: {error}")))?;
    let mut interleaved = vec![0i16; OPUS_MAX_PACKET_SAMPLES * channels];
    let mut out = vec![Vec::new(); channels];
    // RFC 7845 §4.2: the decoder's first `pre_skip` samples (at 48 kHz) are discarded.
    let mut to_skip = to_output_rate(pre_skip);
    while let Some(packet) = next_packet(reader)? {
        if packet.track_id != track_id {
            continue;
        }
        let frames = match decoder.decode(&packet.data, &mut interleaved, false) {
            Ok(frames) => frames.min(OPUS_MAX_PACKET_SAMPLES),
            Err(error) => return Err(AudioError::Decode(format!("Opus: {error}"))),
        };
        // The demuxer marks the padding at the end of the stream (RFC 7845 §4.4) as trimmed,
        // in granule (48 kHz) units; the pre-skip is ours to apply.
        // (Whichever is larger, so a demuxer that also marks the pre-skip cannot double it.)
        let trim_start = to_skip
            .max(to_output_rate(packet.trim_start.get()))
            .min(frames);
        to_skip = to_skip.saturating_sub(frames);
        let trim_end = to_output_rate(packet.trim_end.get()).min(frames - trim_start);
        let kept = &interleaved[trim_start * channels..(frames - trim_end) * channels];
        for frame in kept.chunks_exact(channels) {
            for (channel, sample) in out.iter_mut().zip(frame) {
                channel.push(*sample);
            }
        }
        if out[0].len() > MAX_SAMPLES_PER_CHANNEL {
            return Err(AudioError::TooLong);
        }
    }
    if out[0].is_empty() {
        return Err(AudioError::Malformed("no audio decoded"));
    }
    Ok(Channels {
        sample_rate: OPUS_OUTPUT_RATE,
        channels: out,
    })
}

fn to_output_rate(granules: u64) -> usize {
    let scaled = granules * u64::from(OPUS_OUTPUT_RATE) / u64::from(OPUS_GRANULE_RATE);
    usize::try_from(scaled).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/intake")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// The tone's frequency from its zero crossings.
    fn frequency(samples: &[i16], rate: u32) -> f64 {
        // Skip the codecs' fade-in and the last frame.
        let body = &samples[samples.len() / 10..samples.len() * 9 / 10];
        let crossings = body
            .windows(2)
            .filter(|pair| (pair[0] < 0) != (pair[1] < 0))
            .count();
        crossings as f64 / 2.0 / (body.len() as f64 / f64::from(rate))
    }

    /// testdata/intake holds a 440 Hz tone, 8 kHz mono, 500 ms, written by real encoders
    /// (see its README): each decodes to that tone at its length.
    #[test]
    fn each_fixture_decodes_to_the_tone_it_was_made_from() {
        for (name, format, rate) in [
            ("tone-8k-mono-500ms.flac", Compressed::Flac, 8_000),
            (
                "tone-8k-mono-500ms-unknown-length.flac",
                Compressed::Flac,
                8_000,
            ),
            ("tone-8k-mono-500ms.mp3", Compressed::Mp3, 8_000),
            ("tone-8k-mono-500ms.opus", Compressed::OggOpus, 16_000),
        ] {
            let decoded =
                decode(&fixture(name), format).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(decoded.sample_rate, rate, "{name}");
            assert_eq!(decoded.channels.len(), 1, "{name}");
            let samples = &decoded.channels[0];
            let expected = rate as usize / 2;
            // FLAC is lossless and exact; MP3 may keep up to a frame of encoder delay/padding
            // (576 samples at 8 kHz); Opus is trimmed exactly by its granules.
            let slack = if format == Compressed::Mp3 { 1_200 } else { 0 };
            assert!(
                samples.len().abs_diff(expected) <= slack,
                "{name}: {} samples, expected {expected}",
                samples.len()
            );
            let hertz = frequency(samples, rate);
            assert!((hertz - 440.0).abs() < 15.0, "{name}: {hertz:.1} Hz");
        }
    }

    #[test]
    fn garbage_and_truncated_files_fail_cleanly() {
        assert!(decode(b"not audio at all", Compressed::Flac).is_err());
        assert!(decode(b"OggS", Compressed::OggOpus).is_err());
        let flac = fixture("tone-8k-mono-500ms.flac");
        // A cut-off file decodes what it holds, or fails; it never panics.
        for cut in [4, 42, 100, flac.len() / 2] {
            let _ = decode(&flac[..cut], Compressed::Flac);
        }
        let opus = fixture("tone-8k-mono-500ms.opus");
        for cut in [4, 30, 100, opus.len() / 2] {
            let _ = decode(&opus[..cut], Compressed::OggOpus);
        }
    }
}
