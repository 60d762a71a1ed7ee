//! Synthetic recordings for the demo, benchmarks and tests: WAV files in telephone formats
//! with a sidecar each. Deterministic for a given seed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// A 3-minute two-party G.711 µ-law call, one party per channel: 2,880,000 bytes of audio.
pub const CALL_SECONDS: u32 = 180;
const RATE: u32 = 8_000;

/// ITU-T G.711 µ-law encoding of one 16-bit sample.
pub fn mulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut value = i32::from(sample);
    let sign = if value < 0 { 0x80 } else { 0 };
    if value < 0 {
        value = -value;
    }
    value = value.min(CLIP) + BIAS;
    let exponent = (7 - (value.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (value >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

fn wav_header(format_tag: u16, channels: u16, bits: u16, data_len: u32) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut header = Vec::with_capacity(58);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&(4 + 26 + 12 + 8 + data_len).to_le_bytes());
    header.extend_from_slice(b"WAVE");
    header.extend_from_slice(b"fmt ");
    header.extend_from_slice(&18u32.to_le_bytes());
    header.extend_from_slice(&format_tag.to_le_bytes());
    header.extend_from_slice(&channels.to_le_bytes());
    header.extend_from_slice(&RATE.to_le_bytes());
    header.extend_from_slice(&(RATE * u32::from(block_align)).to_le_bytes());
    header.extend_from_slice(&block_align.to_le_bytes());
    header.extend_from_slice(&bits.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    // µ-law WAVs carry a `fact` chunk (sample count per channel).
    header.extend_from_slice(b"fact");
    header.extend_from_slice(&4u32.to_le_bytes());
    header.extend_from_slice(&(data_len / u32::from(block_align.max(1))).to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&data_len.to_le_bytes());
    header
}

/// A two-party call as a stereo µ-law WAV: each party speaks in turns (a tone burst whose
/// pitch is the party's own), with low noise, seeded so every call's bytes differ.
pub fn two_party_mulaw_wav(seconds: u32, seed: u64) -> Vec<u8> {
    let frames = seconds * RATE;
    let data_len = frames * 2;
    let mut bytes = wav_header(7, 2, 8, data_len);
    bytes.reserve(data_len as usize);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let pitches = [180.0 + (seed % 40) as f32, 260.0 + (seed % 50) as f32];
    for frame in 0..frames {
        let time = frame as f32 / RATE as f32;
        // Turns of 4 seconds: party 0, then party 1.
        let speaker = ((frame / (4 * RATE)) % 2) as usize;
        for (channel, pitch) in pitches.iter().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = ((state >> 40) as i32 & 0xff) - 128;
            let voice = if channel == speaker {
                (f32::sin(2.0 * std::f32::consts::PI * pitch * time) * 9_000.0) as i32
            } else {
                0
            };
            let sample = (voice + noise).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            bytes.push(mulaw_encode(sample));
        }
    }
    bytes
}

/// The sidecar of a synthetic call: a customer who heard the recording notice and an agent
/// covered by the staff pattern `sip:*@contact.example.com`.
pub fn sidecar(external_id: &str, started_at: &str, with_customer_evidence: bool) -> Value {
    let evidence = if with_customer_evidence {
        json!([{ "kind": "announcement", "at": started_at, "reference": "prompt-recording-notice-v2" }])
    } else {
        json!([])
    };
    json!({
        "external_id": external_id,
        "started_at": started_at,
        "direction": "inbound",
        "participants": [
            { "address": "tel:+441632960001", "name": "Ann Customer", "role": "customer", "consent": evidence },
            { "address": "sip:agent7@contact.example.com", "name": "Agent 7", "role": "agent", "consent": [] }
        ],
        "tags": ["qa"]
    })
}

/// Writes `NAME.wav` and `NAME.json` into `dir`; returns the audio path.
pub fn write_call(dir: &Path, name: &str, audio: &[u8], sidecar: &Value) -> Result<PathBuf> {
    let audio_path = dir.join(format!("{name}.wav"));
    std::fs::write(&audio_path, audio)
        .with_context(|| format!("cannot write {}", audio_path.display()))?;
    let sidecar_path = dir.join(format!("{name}.json"));
    std::fs::write(&sidecar_path, serde_json::to_vec_pretty(sidecar)?)
        .with_context(|| format!("cannot write {}", sidecar_path.display()))?;
    Ok(audio_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_matches_itu_reference_points() {
        assert_eq!(mulaw_encode(0), 0xff);
        assert_eq!(mulaw_encode(-1), 0x7f);
        assert_eq!(mulaw_encode(32_767), 0x80);
        assert_eq!(mulaw_encode(-32_768), 0x00);
    }

    #[test]
    fn calls_with_different_seeds_differ() {
        let a = two_party_mulaw_wav(1, 1);
        let b = two_party_mulaw_wav(1, 2);
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
        assert_eq!(a.len(), 58 + 16_000);
    }
}
