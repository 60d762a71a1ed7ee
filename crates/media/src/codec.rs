//! Decoders for export and transcription (never on the recording path): G.711 µ-law and
//! A-law by table (ITU-T G.711), G.722 through the `ezk-g722` crate, Opus through the
//! pure-Rust `opus-decoder` crate (no C library), rendered mono at [`OPUS_DECODE_RATE`].

use rtp::Encoding;

use crate::MediaError;

/// ITU-T G.711 µ-law expansion of one code word (the inverse of the compression in
/// G.711 Table 2): complement, then sign, 3-bit segment and 4-bit step; the bias of 0x84
/// (132) is removed. Output is in the 16-bit linear range (±32,124).
const fn expand_mulaw(code: u8) -> i16 {
    let complement = !code;
    let segment = (complement & 0x70) >> 4;
    let magnitude = ((((complement & 0x0f) as i32) << 3) + 0x84) << segment;
    if complement & 0x80 != 0 {
        (0x84 - magnitude) as i16
    } else {
        (magnitude - 0x84) as i16
    }
}

/// ITU-T G.711 A-law expansion: even bits inverted (XOR 0x55), then sign, segment and step.
/// Output is in the 16-bit linear range (±32,256); the sign bit set means positive.
const fn expand_alaw(code: u8) -> i16 {
    let toggled = code ^ 0x55;
    let segment = (toggled & 0x70) >> 4;
    let step = ((toggled & 0x0f) as i32) << 4;
    let magnitude = match segment {
        0 => step + 8,
        1 => step + 0x108,
        _ => (step + 0x108) << (segment - 1),
    };
    if toggled & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = if alaw {
            expand_alaw(code as u8)
        } else {
            expand_mulaw(code as u8)
        };
        code += 1;
    }
    table
}

/// The 256 µ-law code words expanded, built at compile time.
static MULAW: [i16; 256] = table(false);
/// The 256 A-law code words expanded, built at compile time.
static ALAW: [i16; 256] = table(true);

/// G.711 µ-law code word → 16-bit linear PCM.
pub fn mulaw_to_linear(code: u8) -> i16 {
    MULAW[usize::from(code)]
}

/// G.711 A-law code word → 16-bit linear PCM.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW[usize::from(code)]
}

/// The rate Opus is rendered at. An Opus decoder outputs any of 8, 12, 16, 24 or 48 kHz
/// whatever the encoder used (RFC 6716 §2); 16 kHz keeps all of wideband speech and is the
/// rate speech-to-text works at.
pub const OPUS_DECODE_RATE: u32 = 16_000;

/// The longest Opus packet, 120 ms (RFC 6716 §3.2.5), in samples at [`OPUS_DECODE_RATE`].
const OPUS_MAX_PACKET_SAMPLES: usize = OPUS_DECODE_RATE as usize * 120 / 1000;

/// PCM sample rate a decoded encoding has (not its RTP clock: G.722 samples at 16 kHz, Opus
/// is rendered at [`OPUS_DECODE_RATE`] whatever its 48 kHz RTP clock).
pub fn sample_rate(encoding: Encoding) -> Result<u32, MediaError> {
    match encoding {
        Encoding::Pcmu | Encoding::Pcma => Ok(8_000),
        Encoding::G722 => Ok(16_000),
        Encoding::Opus => Ok(OPUS_DECODE_RATE),
        Encoding::TelephoneEvent => Err(MediaError::UnsupportedCodec("telephone-event")),
    }
}

/// How many samples at `rate` one Opus packet holds, from its TOC byte (RFC 6716 §3.1,
/// Table 2: SILK-only configurations 0–11 have 10/20/40/60 ms frames, hybrid 12–15 10/20 ms,
/// CELT-only 16–31 2.5/5/10/20 ms) and frame count code (§3.2: one frame, two, or an
/// explicit count in the next byte). `None` for an empty or malformed packet, or one over
/// 120 ms (§3.2.5).
pub fn opus_packet_samples(packet: &[u8], rate: u32) -> Option<usize> {
    let toc = *packet.first()?;
    let config = usize::from(toc >> 3);
    // Frame durations in units of 0.5 ms.
    let frame_half_ms = match config {
        0..=11 => [20, 40, 80, 120][config % 4],
        12..=15 => [20, 40][config % 2],
        _ => [5, 10, 20, 40][config % 4],
    };
    let frames = match toc & 0b11 {
        0 => 1,
        1 | 2 => 2,
        _ => usize::from(*packet.get(1)? & 0x3f),
    };
    let total_half_ms = frames * frame_half_ms;
    if frames == 0 || total_half_ms > 240 {
        return None;
    }
    Some(total_half_ms * rate as usize / 2_000)
}

/// A stateful decoder for one stream's audio payloads.
pub enum Decoder {
    Pcmu,
    Pcma,
    #[cfg(feature = "g722")]
    G722(Box<ezk_g722::libg722::decoder::Decoder>),
    Opus(Box<opus_decoder::OpusDecoder>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Decoder::Pcmu => "Pcmu",
            Decoder::Pcma => "Pcma",
            #[cfg(feature = "g722")]
            Decoder::G722(_) => "G722",
            Decoder::Opus(_) => "Opus",
        };
        formatter.debug_tuple("Decoder").field(&name).finish()
    }
}

impl Decoder {
    pub fn new(encoding: Encoding) -> Result<Decoder, MediaError> {
        match encoding {
            Encoding::Pcmu => Ok(Decoder::Pcmu),
            Encoding::Pcma => Ok(Decoder::Pcma),
            #[cfg(feature = "g722")]
            Encoding::G722 => Ok(Decoder::G722(Box::new(
                // RFC 3551 §4.5.2: G.722 at 64 kbit/s, one octet per two 16 kHz samples.
                ezk_g722::libg722::decoder::Decoder::new(
                    ezk_g722::libg722::Bitrate::Mode1_64000,
                    false,
                    false,
                ),
            ))),
            #[cfg(not(feature = "g722"))]
            Encoding::G722 => Err(MediaError::UnsupportedCodec("G722")),
            // Mono: a stereo Opus stream is downmixed by the decoder (RFC 7587 §3.4 lets
            // either side send mono or stereo whatever the SDP says).
            Encoding::Opus => opus_decoder::OpusDecoder::new(OPUS_DECODE_RATE, 1)
                .map(|decoder| Decoder::Opus(Box::new(decoder)))
                .map_err(|_| MediaError::UnsupportedCodec("opus")),
            Encoding::TelephoneEvent => Err(MediaError::UnsupportedCodec("telephone-event")),
        }
    }

    /// PCM samples one payload decodes to.
    pub fn decoded_len(&self, payload: &[u8]) -> usize {
        match self {
            Decoder::Pcmu | Decoder::Pcma => payload.len(),
            #[cfg(feature = "g722")]
            Decoder::G722(_) => payload.len() * 2,
            Decoder::Opus(_) => opus_packet_samples(payload, OPUS_DECODE_RATE).unwrap_or(0),
        }
    }

    /// Decodes one payload, appending PCM samples to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match self {
            Decoder::Pcmu => out.extend(payload.iter().map(|&code| mulaw_to_linear(code))),
            Decoder::Pcma => out.extend(payload.iter().map(|&code| alaw_to_linear(code))),
            #[cfg(feature = "g722")]
            Decoder::G722(decoder) => out.extend_from_slice(&decoder.decode(payload)),
            Decoder::Opus(decoder) => {
                let mut pcm = [0i16; OPUS_MAX_PACKET_SAMPLES];
                // The payload is whatever the recording client sent: a packet the decoder
                // rejects, or one it trips over, becomes silence of its stated length (as a
                // lost packet would) and the decoder starts afresh.
                let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    decoder.decode(payload, &mut pcm, false)
                }));
                match decoded {
                    Ok(Ok(samples)) => out.extend_from_slice(&pcm[..samples.min(pcm.len())]),
                    Ok(Err(_)) | Err(_) => {
                        decoder.reset();
                        let silence = opus_packet_samples(payload, OPUS_DECODE_RATE).unwrap_or(0);
                        out.resize(out.len() + silence, 0);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_matches_itu_values() {
        assert_eq!(mulaw_to_linear(0xff), 0);
        assert_eq!(mulaw_to_linear(0x7f), 0);
        assert_eq!(mulaw_to_linear(0x00), -32_124);
        assert_eq!(mulaw_to_linear(0x80), 32_124);
        assert_eq!(mulaw_to_linear(0xfe), 8);
        assert_eq!(mulaw_to_linear(0x7e), -8);
        assert_eq!(mulaw_to_linear(0xf0), 120);
        assert_eq!(mulaw_to_linear(0xef), 132);
    }

    #[test]
    fn alaw_matches_itu_values() {
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32_256);
        assert_eq!(alaw_to_linear(0x2a), -32_256);
        assert_eq!(alaw_to_linear(0xd4), 24);
        assert_eq!(alaw_to_linear(0xc5), 264);
    }

    #[test]
    fn tables_are_odd_symmetric() {
        for code in 0..=127u8 {
            assert_eq!(mulaw_to_linear(code), -mulaw_to_linear(code | 0x80));
            assert_eq!(alaw_to_linear(code), -alaw_to_linear(code | 0x80));
        }
    }

    #[test]
    fn opus_packet_lengths_follow_the_toc_byte() {
        // RFC 6716 §3.1: config 1 (SILK NB 20 ms), code 0: one 20 ms frame.
        assert_eq!(opus_packet_samples(&[1 << 3], 16_000), Some(320));
        // Config 31 (CELT FB 20 ms), code 1: two frames.
        assert_eq!(
            opus_packet_samples(&[(31 << 3) | 1, 0], 48_000),
            Some(1_920)
        );
        // Config 16 (CELT NB 2.5 ms), code 3 with 48 frames: 120 ms, the most allowed.
        assert_eq!(
            opus_packet_samples(&[(16 << 3) | 3, 48], 16_000),
            Some(1_920)
        );
        // Config 3 (SILK 60 ms), code 3 with 3 frames: 180 ms, over the limit.
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 3], 16_000), None);
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 0], 16_000), None);
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3], 16_000), None);
        assert_eq!(opus_packet_samples(&[], 16_000), None);
    }

    #[test]
    fn a_packet_the_opus_decoder_rejects_is_silence_of_its_length() -> Result<(), MediaError> {
        let mut decoder = Decoder::new(Encoding::Opus)?;
        let mut out = Vec::new();
        // Code 1 (two frames of equal size) with an odd number of bytes after the TOC:
        // malformed (RFC 6716 §3.2.3, requirement R3).
        let packet = [(1 << 3) | 1, 0xaa, 0xbb, 0xcc];
        assert_eq!(decoder.decoded_len(&packet), 640);
        decoder.decode(&packet, &mut out);
        assert_eq!(out.len(), decoder.decoded_len(&packet));
        assert!(out.iter().all(|&sample| sample == 0));
        Ok(())
    }

    #[cfg(feature = "g722")]
    #[test]
    fn g722_decodes_two_samples_per_byte() -> Result<(), MediaError> {
        let mut decoder = Decoder::new(Encoding::G722)?;
        let mut out = Vec::new();
        decoder.decode(&[0xfa; 160], &mut out);
        assert_eq!(out.len(), 320);
        Ok(())
    }
}
