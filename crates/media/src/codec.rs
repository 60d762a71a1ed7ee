//! Decoders for export and transcription (never on the recording path): G.711 µ-law and
//! A-law by table (ITU-T G.711), G.722 through the `ezk-g722` crate. Opus is not decoded by
//! this build (no pure-Rust Opus decoder is vetted for the workspace yet): asking for it is
//! a clear [`MediaError::UnsupportedCodec`].

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

/// PCM sample rate a decoded encoding has (not its RTP clock: G.722 samples at 16 kHz).
pub fn sample_rate(encoding: Encoding) -> Result<u32, MediaError> {
    match encoding {
        Encoding::Pcmu | Encoding::Pcma => Ok(8_000),
        Encoding::G722 => Ok(16_000),
        Encoding::Opus => Err(MediaError::UnsupportedCodec("opus")),
        Encoding::TelephoneEvent => Err(MediaError::UnsupportedCodec("telephone-event")),
    }
}

/// A stateful decoder for one stream's audio payloads.
pub enum Decoder {
    Pcmu,
    Pcma,
    #[cfg(feature = "g722")]
    G722(Box<ezk_g722::libg722::decoder::Decoder>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Decoder::Pcmu => "Pcmu",
            Decoder::Pcma => "Pcma",
            #[cfg(feature = "g722")]
            Decoder::G722(_) => "G722",
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
            Encoding::Opus => Err(MediaError::UnsupportedCodec("opus")),
            Encoding::TelephoneEvent => Err(MediaError::UnsupportedCodec("telephone-event")),
        }
    }

    /// PCM samples one payload byte decodes to.
    pub fn samples_per_byte(&self) -> usize {
        match self {
            Decoder::Pcmu | Decoder::Pcma => 1,
            #[cfg(feature = "g722")]
            Decoder::G722(_) => 2,
        }
    }

    /// Decodes one payload, appending PCM samples to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match self {
            Decoder::Pcmu => out.extend(payload.iter().map(|&code| mulaw_to_linear(code))),
            Decoder::Pcma => out.extend(payload.iter().map(|&code| alaw_to_linear(code))),
            #[cfg(feature = "g722")]
            Decoder::G722(decoder) => out.extend_from_slice(&decoder.decode(payload)),
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
    fn opus_is_a_clear_unsupported_codec_error() {
        assert!(matches!(
            Decoder::new(Encoding::Opus),
            Err(MediaError::UnsupportedCodec("opus"))
        ));
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
