//! Transcribes a two-party call spoken by `espeak-ng`, passed through 8 kHz G.711 µ-law,
//! with the real Whisper tiny.en weights. Needs `scripts/fetch-models.sh target/models`
//! (or `ONRECORD_MODELS=DIR`) and the Debian package `espeak-ng`.
#![cfg(feature = "whisper")]

use std::path::PathBuf;
use std::process::Command;

use onrecord_transcribe::whisper::{WhisperDevice, WhisperEngine};
use onrecord_transcribe::{Pcm16k, TranscribeOptions, Transcriber, Transcript, resample};

/// One turn of the call: who speaks, when (ms from the start), what.
struct Turn {
    party: usize,
    at_ms: u64,
    text: &'static str,
}

const SCRIPT: [Turn; 4] = [
    Turn {
        party: 0,
        at_ms: 500,
        text: "Hello, I would like to change the billing address on my account.",
    },
    Turn {
        party: 1,
        at_ms: 6_000,
        text: "Of course. What is your new address?",
    },
    Turn {
        party: 0,
        at_ms: 11_000,
        text: "My new address is Main Street in Springfield.",
    },
    Turn {
        party: 1,
        at_ms: 15_500,
        text: "Thank you. Your account has been updated.",
    },
];
const CALL_MS: u64 = 21_000;

fn models_directory() -> PathBuf {
    match std::env::var_os("ONRECORD_MODELS") {
        Some(directory) => PathBuf::from(directory),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models"),
    }
}

fn tiny_en() -> PathBuf {
    let directory = models_directory().join("tiny.en");
    assert!(
        directory.join("model.bin").is_file(),
        "Whisper tiny.en weights are missing in {}: run `scripts/fetch-models.sh target/models` \
         from the workspace root (or set ONRECORD_MODELS to the directory it filled)",
        directory.display()
    );
    directory
}

/// Speaks `text` with espeak-ng; returns mono samples and their rate.
fn speak(text: &str) -> (Vec<f32>, u32) {
    let path = std::env::temp_dir().join(format!(
        "onrecord-transcribe-{}-{}.wav",
        std::process::id(),
        text.len()
    ));
    let status = Command::new("espeak-ng")
        .args(["-v", "en", "-s", "150", "-w"])
        .arg(&path)
        .arg(text)
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "espeak-ng failed ({status:?}); install the Debian package `espeak-ng`"
    );
    let bytes = std::fs::read(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    parse_wav(&bytes).unwrap_or_else(|| panic!("espeak-ng wrote no 16-bit mono WAV"))
}

/// Minimal RIFF/WAVE reader for espeak-ng's 16-bit mono output.
fn parse_wav(bytes: &[u8]) -> Option<(Vec<f32>, u32)> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut offset = 12;
    let mut rate = None;
    while offset + 8 <= bytes.len() {
        let id = &bytes[offset..offset + 4];
        let size = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().ok()?) as usize;
        let body = bytes.get(offset + 8..(offset + 8 + size).min(bytes.len()))?;
        if id == b"fmt " {
            let channels = u16::from_le_bytes(body.get(2..4)?.try_into().ok()?);
            let bits = u16::from_le_bytes(body.get(14..16)?.try_into().ok()?);
            if channels != 1 || bits != 16 {
                return None;
            }
            rate = Some(u32::from_le_bytes(body.get(4..8)?.try_into().ok()?));
        } else if id == b"data" {
            let samples = body
                .chunks_exact(2)
                .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32_768.0)
                .collect();
            return Some((samples, rate?));
        }
        offset += 8 + size + size % 2;
    }
    None
}

/// ITU-T G.711 µ-law compression (the inverse of `media::mulaw_to_linear`).
fn linear_to_mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut magnitude = i32::from(sample);
    let sign = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    let biased = magnitude.min(CLIP) + BIAS;
    let exponent = 31 - ((biased >> 7) as u32 | 1).leading_zeros() as i32;
    let mantissa = (biased >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// One party's stream at 8 kHz µ-law (silence while the other party talks), decoded back
/// to 16 kHz the way the transcription worker does it.
fn telephone_stream(party: usize) -> Pcm16k {
    let mut stream = vec![0i16; (CALL_MS * 8) as usize];
    for turn in SCRIPT.iter().filter(|turn| turn.party == party) {
        let (speech, rate) = speak(turn.text);
        let narrow = resample::resample(&speech, rate, 8_000).unwrap_or_default();
        let start = (turn.at_ms * 8) as usize;
        for (slot, sample) in stream[start..].iter_mut().zip(narrow) {
            let linear = (sample * 32_767.0).clamp(-32_768.0, 32_767.0) as i16;
            *slot = media::mulaw_to_linear(linear_to_mulaw(linear));
        }
    }
    let mulaw_silence = media::mulaw_to_linear(linear_to_mulaw(0));
    assert!(mulaw_silence.abs() < 8, "µ-law silence decodes near zero");
    Pcm16k::from_i16(&stream, 8_000).unwrap_or_default()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

/// Word error rate: word-level edit distance over the reference length.
fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (reference, hypothesis) = (words(reference), words(hypothesis));
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, expected) in reference.iter().enumerate() {
        let mut previous_diagonal = row[0];
        row[0] = i + 1;
        for (j, actual) in hypothesis.iter().enumerate() {
            let substitution = previous_diagonal + usize::from(expected != actual);
            previous_diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[hypothesis.len()] as f64 / reference.len().max(1) as f64
}

fn check_party(engine: &mut WhisperEngine, party: usize) -> Transcript {
    let audio = telephone_stream(party);
    let transcript = engine
        .transcribe(&audio, &TranscribeOptions::default())
        .unwrap_or_else(|error| panic!("transcription failed: {error}"));
    let turns: Vec<&Turn> = SCRIPT.iter().filter(|turn| turn.party == party).collect();
    let reference: Vec<&str> = turns.iter().map(|turn| turn.text).collect();
    let reference = reference.join(" ");
    let hypothesis = transcript.text();
    let rate = word_error_rate(&reference, &hypothesis);
    eprintln!("party {party}: WER {:.1}%", rate * 100.0);
    eprintln!("  reference:  {reference}");
    eprintln!("  hypothesis: {hypothesis}");
    for segment in &transcript.segments {
        eprintln!(
            "  [{:>6} – {:>6} ms] {}",
            segment.start_ms, segment.end_ms, segment.text
        );
    }
    assert!(rate < 0.25, "party {party}: WER {rate:.3} is not under 25%");

    // Times: in order, inside the stream, and each segment overlaps one of this party's
    // turns (none lies in the other party's turns, where this stream is silent).
    let segments = &transcript.segments;
    assert!(!segments.is_empty());
    assert!(
        segments
            .windows(2)
            .all(|pair| pair[0].start_ms <= pair[1].start_ms)
    );
    for segment in segments {
        assert!(segment.start_ms < segment.end_ms && segment.end_ms <= CALL_MS);
        let overlaps_own_turn = turns.iter().any(|turn| {
            let turn_end = turn.at_ms + 5_500;
            segment.start_ms < turn_end && segment.end_ms > turn.at_ms.saturating_sub(500)
        });
        assert!(
            overlaps_own_turn,
            "segment {segment:?} is outside party {party}'s turns"
        );
        assert!(
            segment
                .words
                .iter()
                .all(|word| { segment.start_ms <= word.start_ms && word.end_ms <= segment.end_ms })
        );
    }
    // The first segment starts near the first turn (within a second).
    let first = segments[0].start_ms;
    assert!(
        first + 1_000 >= turns[0].at_ms && first <= turns[0].at_ms + 1_000,
        "first segment at {first} ms"
    );
    transcript
}

#[test]
fn two_party_telephone_call_is_transcribed_per_participant() {
    let mut engine = WhisperEngine::load(&tiny_en(), WhisperDevice::Cpu)
        .unwrap_or_else(|error| panic!("loading tiny.en: {error}"));
    let caller = check_party(&mut engine, 0);
    let agent = check_party(&mut engine, 1);
    assert!(caller.text().to_lowercase().contains("springfield"));
    assert!(agent.text().to_lowercase().contains("updated"));
}

#[test]
fn silence_and_line_noise_give_no_segments() {
    let mut engine = WhisperEngine::load(&tiny_en(), WhisperDevice::Cpu)
        .unwrap_or_else(|error| panic!("loading tiny.en: {error}"));
    let mut state = 99u32;
    let hiss: Vec<i16> = (0..10 * 8_000)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            media::mulaw_to_linear(linear_to_mulaw(((state >> 24) as i16 - 128) / 4))
        })
        .collect();
    let audio = Pcm16k::from_i16(&hiss, 8_000).unwrap_or_default();
    let transcript = engine
        .transcribe(&audio, &TranscribeOptions::default())
        .unwrap_or_else(|error| panic!("transcription failed: {error}"));
    assert!(transcript.segments.is_empty(), "{transcript:?}");
}

#[test]
fn mulaw_encoder_round_trips_within_quantisation() {
    for sample in [-32_000i16, -1_000, -5, 0, 5, 1_000, 32_000] {
        let back = media::mulaw_to_linear(linear_to_mulaw(sample));
        let tolerance = (i32::from(sample).abs() / 16).max(8);
        assert!(
            (i32::from(back) - i32::from(sample)).abs() <= tolerance,
            "{sample} → {back}"
        );
    }
}
